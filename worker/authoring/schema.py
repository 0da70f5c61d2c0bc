"""The sequence YAML schema: strict pydantic models (unknown keys are errors)."""

from __future__ import annotations

import math
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

from worker.authoring.languages import DEFAULT_LANGUAGE, languages_of, subjects_by_language
from worker.authoring.reply_rules import parse_rule
from worker.vocabulary import PIPELINE_STAGES

_WAIT = re.compile(
    r"^\s*(?P<n>\d+)\s*(?P<unit>business\s+days?|days?|weeks?|hours?|d|bd|w|h)\s*$", re.IGNORECASE
)
MAX_WAIT_DAYS = 730
_UNITS = {"d": "days", "day": "days", "days": "days", "h": "hours", "hour": "hours"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,99}$")
# What a changed sequence does to leads in flight (docs/authoring.md#changing-a-live-sequence).
ON_CHANGE = ("migrate", "finish", "restart")
Subject = str | dict[str, str]  # a step's subject: text, or one text per language


@dataclass(frozen=True)
class Wait:
    """How long to wait before a step: calendar days, business days (Mon-Fri) or hours."""

    amount: int
    unit: Literal["days", "business_days", "hours"]

    @classmethod
    def parse(cls, text: str | int) -> Wait:
        """Parse "3 days", "2 business days", "1 week" (7 calendar days), "4 hours" (or 3d /
        2bd / 1w / 4h)."""
        if isinstance(text, int):
            return cls(text, "days")._within_limit(text)
        match = _WAIT.match(str(text))
        if not match:
            raise ValueError(
                f"wait {text!r} is not understood — write e.g. '3 days', "
                "'2 business days', '1 week' or '4 hours'"
            )
        unit = re.sub(r"\s+", " ", match["unit"].lower())
        if unit.startswith("business") or unit == "bd":
            found = cls(int(match["n"]), "business_days")
        elif unit.startswith("w"):
            found = cls(int(match["n"]) * 7, "days")
        else:
            found = cls(int(match["n"]), _UNITS.get(unit, unit))  # type: ignore[arg-type]
        return found._within_limit(text)

    def _within_limit(self, text: str | int) -> Wait:
        """This wait, when it is at most ``MAX_WAIT_DAYS`` long; else a clear error."""
        days = {"hours": self.amount / 24, "business_days": self.amount * 7 / 5}
        if days.get(self.unit, self.amount) > MAX_WAIT_DAYS:
            raise ValueError(
                f"wait {text!r} is longer than two years ({MAX_WAIT_DAYS} days) — a sequence "
                "step that far out is a typo; end the sequence and enroll the lead again later"
            )
        return self

    def __str__(self) -> str:
        label = self.unit.replace("_", " ")
        return f"{self.amount} {label[:-1] if self.amount == 1 else label}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _single_line(value: Subject | None) -> Subject | None:
    if isinstance(value, dict):
        return subjects_by_language(value)  # {en: ..., de: ...}: one line per language
    if value is not None and ("\n" in value or "\r" in value):
        raise ValueError("subject must be a single line")
    return value


class VariantSpec(_Strict):
    """One A/B variant of an email step: its own subject and/or template, and a weight."""

    name: str
    weight: float = 1.0
    subject: Subject | None = None  # text, or one text per language: {en: ..., de: ...}
    template: str | None = Field(default=None, min_length=1)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("name must be lowercase letters, digits and dashes, e.g. 'short'")
        return value

    @field_validator("weight")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"weight must be a number greater than 0 (got {value:g})")
        return value

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: Subject | None) -> Subject | None:
        return _single_line(value)


STEP_TYPES = ("email", "call", "linkedin")


class StepSpec(_Strict):
    """One touch of a sequence: an email (optionally with A/B variants), or a manual task for
    a rep (``type: call`` / ``type: linkedin``)."""

    type: Literal["email", "call", "linkedin"] = "email"
    # A stable id (``worker.authoring.step_ids``); None: derived from the template or type.
    id: str | None = None
    template: str | None = Field(default=None, min_length=1)
    wait: Wait = Field(default_factory=lambda: Wait(0, "days"))
    subject: Subject | None = None  # text, or one text per language: {en: ..., de: ...}
    same_thread: bool = False
    variants: tuple[VariantSpec, ...] | None = None
    task: str | None = Field(default=None, min_length=1)
    timeout: Wait | None = None

    @field_validator("wait", "timeout", mode="before")
    @classmethod
    def _parse_wait(cls, value: object) -> Wait:
        if isinstance(value, Wait):
            return value
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("wait must be text such as '3 days' or '2 business days'")
        return Wait.parse(value)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: Subject | None) -> Subject | None:
        return _single_line(value)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _STEP_ID.match(value):
            raise ValueError(
                "id must start with a letter or digit and use only letters, digits and "
                "'_', '-', '.', '/' (at most 100), e.g. 'case-study'"
            )
        return value

    @field_validator("variants")
    @classmethod
    def _distinct_variants(
        cls, value: tuple[VariantSpec, ...] | None
    ) -> tuple[VariantSpec, ...] | None:
        if value is None:
            return None
        if len(value) < 2:
            raise ValueError("an A/B test needs at least two variants")
        first: dict[str, int] = {}
        for number, variant in enumerate(value, start=1):
            if variant.name in first:
                raise ValueError(
                    f"variant name {variant.name!r} is used twice (variants {first[variant.name]} "
                    f"and {number}) — give each variant its own name"
                )
            first[variant.name] = number
        return value

    @model_validator(mode="after")
    def _fits_its_type(self) -> StepSpec:
        if self.type == "email":
            if self.template is None:
                raise ValueError(
                    "missing required key 'template' — an email step needs "
                    "'template: folder/name' (or 'type: call' / 'type: linkedin' with 'task:')"
                )
            wrong = [key for key in ("task", "timeout") if getattr(self, key) is not None]
            if wrong:
                raise ValueError(
                    f"{' and '.join(repr(k) for k in wrong)} only "
                    f"{'apply' if len(wrong) > 1 else 'applies'} to manual steps "
                    "('type: call' or 'type: linkedin')"
                )
            return self
        if self.task is None:
            raise ValueError(
                f"missing required key 'task' — a {self.type} step needs the rep's task, e.g. "
                'task: "Call {{ first_name }} at {{ company }}"'
            )
        wrong = [
            key for key in ("template", "subject", "variants") if getattr(self, key) is not None
        ] + (["same_thread"] if self.same_thread else [])
        if wrong:
            raise ValueError(
                f"a {self.type} step sends no email: remove {', '.join(repr(k) for k in wrong)}"
            )
        return self

    @property
    def is_email(self) -> bool:
        """True for an email step, False for a manual task (call, LinkedIn)."""
        return self.type == "email"

    def variant(self, name: str) -> VariantSpec | None:
        """The variant called ``name``, or None."""
        for variant in self.variants or ():
            if variant.name == name:
                return variant
        return None


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
    complaint: tuple[str, ...] | None = None
    referral: tuple[str, ...] | None = None
    question: tuple[str, ...] | None = None
    auto_reply: tuple[str, ...] | None = None
    unknown: tuple[str, ...] | None = None
    later: tuple[str, ...] | None = None
    data_request: tuple[str, ...] | None = None
    left_company: tuple[str, ...] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _rule(cls, value: object, info: ValidationInfo) -> tuple[str, ...] | None:
        return None if value is None else parse_rule(str(info.field_name), value)

    def rules(self) -> dict[str, tuple[str, ...]]:
        """The intents this sequence overrides."""
        return {intent: actions for intent, actions in self if actions is not None}


COMPANY_ACTIONS = ("pause", "flag", "stop")
# The intents a person writes that can reach a company's other leads.
COMPANY_INTENTS = (
    "positive",
    "negative",
    "unsubscribe",
    "referral",
    "question",
    "later",
    "data_request",
    "left_company",
)


class OnCompanyReply(_Strict):
    """What a reply of one lead does to the other leads of the same company (by the email's
    ``domain`` or the ``company`` field): per intent, pause their sequences, flag them for the
    rep, or stop them. Intents not named leave the colleagues alone."""

    match: Literal["domain", "company"] = "domain"
    positive: tuple[str, ...] | None = None
    negative: tuple[str, ...] | None = None
    unsubscribe: tuple[str, ...] | None = None
    referral: tuple[str, ...] | None = None
    question: tuple[str, ...] | None = None
    later: tuple[str, ...] | None = None
    data_request: tuple[str, ...] | None = None
    left_company: tuple[str, ...] | None = None

    @field_validator(*COMPANY_INTENTS, mode="before")
    @classmethod
    def _actions(cls, value: object) -> tuple[str, ...] | None:
        if value is None:
            return None
        raw = [value] if isinstance(value, str) else value
        if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw):
            raise ValueError("write an action or a list of actions")
        actions = tuple(a.strip() for a in raw)
        for action in actions:
            if action not in COMPANY_ACTIONS:
                raise ValueError(
                    f"unknown action {action!r} for colleagues — use {', '.join(COMPANY_ACTIONS)}"
                )
        return actions

    def rules(self) -> dict[str, tuple[str, ...]]:
        """The intents that reach the colleagues, and what they do."""
        return {k: v for k, v in self if k != "match" and v is not None}


class SequenceSpec(_Strict):
    """A multi-touch email sequence for one pipeline stage."""

    name: str
    stage: str
    mailbox: str
    description: str | None = None
    schedule: str | None = None  # a send window named in schedules.yaml; None: any time
    # The languages its emails are written in; the first is the default (un-suffixed files).
    languages: tuple[str, ...] = (DEFAULT_LANGUAGE,)
    steps: list[StepSpec] = Field(min_length=1)
    on_complete: OnComplete = Field(default_factory=OnComplete)
    on_reply: OnReply = Field(default_factory=OnReply)
    on_company_reply: OnCompanyReply = Field(default_factory=OnCompanyReply)
    on_change: Literal["migrate", "finish", "restart"] = "migrate"
    # Engagement signals (``worker.tracking``), both off unless asked for: links rewritten to
    # signed ``/c/TOKEN`` redirects; a 1x1 ``/o/TOKEN`` image in HTML emails (unreliable).
    track_clicks: bool = False
    track_opens: bool = False

    @field_validator("track_clicks", "track_opens", mode="before")
    @classmethod
    def _yes_or_no(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, bool):
            raise ValueError(f"{info.field_name} must be true or false (got {value!r})")
        return value

    @field_validator("on_change", mode="before")
    @classmethod
    def _known_policy(cls, value: object) -> object:
        if value not in ON_CHANGE:
            raise ValueError(
                f"on_change {value!r} is not one of: {', '.join(ON_CHANGE)} — what leads in "
                "flight do when this file changes (default: migrate)"
            )
        return value

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

    @field_validator("languages", mode="before")
    @classmethod
    def _known_languages(cls, value: object) -> tuple[str, ...]:
        return languages_of(value)

    @property
    def default_language(self) -> str:
        """The language of the sequence's un-suffixed template files."""
        return self.languages[0]

    @field_validator("steps")
    @classmethod
    def _first_step_starts_thread(cls, steps: list[StepSpec]) -> list[StepSpec]:
        if steps and steps[0].same_thread:
            raise ValueError("the first step cannot reply in the same thread (there is none yet)")
        return steps
