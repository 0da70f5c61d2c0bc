"""The sequence YAML schema: strict pydantic models (unknown keys are errors)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..reply_rules import parse_rule
from ..settings import PIPELINE_STAGES

_WAIT = re.compile(
    r"^\s*(?P<n>\d+)\s*(?P<unit>business\s+days?|days?|hours?|d|bd|h)\s*$", re.IGNORECASE
)
_UNITS = {"d": "days", "day": "days", "days": "days", "h": "hours", "hour": "hours"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Wait:
    """How long to wait before a step: calendar days, business days (Mon-Fri) or hours."""

    amount: int
    unit: Literal["days", "business_days", "hours"]

    @classmethod
    def parse(cls, text: str | int) -> Wait:
        """Parse "3 days", "2 business days", "4 hours" (or 3d / 2bd / 4h)."""
        if isinstance(text, int):
            return cls(text, "days")
        match = _WAIT.match(str(text))
        if not match:
            raise ValueError(
                f"wait {text!r} is not understood — write e.g. '3 days', "
                "'2 business days' or '4 hours'"
            )
        unit = re.sub(r"\s+", " ", match["unit"].lower())
        if unit.startswith("business") or unit == "bd":
            return cls(int(match["n"]), "business_days")
        return cls(int(match["n"]), _UNITS.get(unit, unit))  # type: ignore[arg-type]

    def __str__(self) -> str:
        label = self.unit.replace("_", " ")
        return f"{self.amount} {label[:-1] if self.amount == 1 else label}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class StepSpec(_Strict):
    """One touch of a sequence."""

    template: str = Field(min_length=1)
    wait: Wait = Field(default_factory=lambda: Wait(0, "days"))
    subject: str | None = None
    same_thread: bool = False

    @field_validator("wait", mode="before")
    @classmethod
    def _parse_wait(cls, value: object) -> Wait:
        if isinstance(value, Wait):
            return value
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("wait must be text such as '3 days' or '2 business days'")
        return Wait.parse(value)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError("subject must be a single line")
        return value


class OnComplete(_Strict):
    """What happens when the last touch went out and nobody replied."""

    action: Literal["stop", "lost", "advance", "enroll"] = "stop"
    after: Wait = Field(default_factory=lambda: Wait(0, "days"))
    sequence: str | None = None

    @field_validator("after", mode="before")
    @classmethod
    def _parse_after(cls, value: object) -> Wait:
        return StepSpec._parse_wait(value)

    @model_validator(mode="after")
    def _sequence_with_enroll(self) -> OnComplete:
        if self.action == "enroll" and not self.sequence:
            raise ValueError("action 'enroll' needs 'sequence: <name>'")
        if self.action != "enroll" and self.sequence:
            raise ValueError("'sequence' is only used with action 'enroll'")
        return self


class OnReply(_Strict):
    """Per intent, the actions to take when a reply of that kind comes in (else the default)."""

    positive: tuple[str, ...] | None = None
    negative: tuple[str, ...] | None = None
    unsubscribe: tuple[str, ...] | None = None
    ooo: tuple[str, ...] | None = None
    bounce_hard: tuple[str, ...] | None = None
    bounce_soft: tuple[str, ...] | None = None
    referral: tuple[str, ...] | None = None
    question: tuple[str, ...] | None = None
    auto_reply: tuple[str, ...] | None = None
    unknown: tuple[str, ...] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _rule(cls, value: object, info: ValidationInfo) -> tuple[str, ...] | None:
        return None if value is None else parse_rule(str(info.field_name), value)

    def rules(self) -> dict[str, tuple[str, ...]]:
        """The intents this sequence overrides."""
        return {intent: actions for intent, actions in self if actions is not None}


class SequenceSpec(_Strict):
    """A multi-touch email sequence for one pipeline stage."""

    name: str
    stage: str
    mailbox: str
    description: str | None = None
    steps: list[StepSpec] = Field(min_length=1)
    on_complete: OnComplete = Field(default_factory=OnComplete)
    on_reply: OnReply = Field(default_factory=OnReply)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "name must be lowercase letters, digits and dashes, e.g. 'prospecting'"
            )
        return value

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, value: str) -> str:
        if value not in PIPELINE_STAGES:
            raise ValueError(f"stage {value!r} is not one of: {', '.join(PIPELINE_STAGES)}")
        return value

    @field_validator("steps")
    @classmethod
    def _first_step_starts_thread(cls, steps: list[StepSpec]) -> list[StepSpec]:
        if steps and steps[0].same_thread:
            raise ValueError("the first step cannot reply in the same thread (there is none yet)")
        return steps
