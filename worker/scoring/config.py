"""``scoring.yaml``: fit rules on lead fields, engagement rules on events, thresholds and what
happens when a score crosses one. Strict (unknown keys are errors), every problem reported as
``scoring.yaml:LINE: message`` like the sequences. No file: scoring is off.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from worker.authoring.config_files import ReadWhileUnchanged, field_problem, read_mapping
from worker.authoring.problems import Problem, display_path
from worker.authoring.yaml_source import Loc, line_for
from worker.errors import did_you_mean
from worker.understanding import INTENTS

SCORING_FILE = "scoring.yaml"
THRESHOLDS = ("mql", "sql_candidate")
CROSS_ACTIONS: dict[str, str] = {
    "advance": "move the lead to the next pipeline stage (stops its open sequences)",
    "flag": "put the lead in the review queue for a rep",
    "notify": "record a notification on the timeline and flag the lead (owners come later)",
}
ENROLL_PREFIX = "enroll:"
FIT_OPERATORS = (
    "contains",
    "equals",
    "in",
    "not_in",
    "gte",
    "lte",
    "gt",
    "lt",
    "matches",
    "exists",
)
ENGAGEMENT_EVENTS = ("reply", "link_clicked", "activity", "call_logged", "captured")
# The filter an engagement rule may add, by event: which intents, activity types, outcomes.
_FILTERS = {"intent": "reply", "type": "activity", "outcome": "call_logged", "source": "captured"}
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )


def _words(value: object) -> object:
    """One word or a list of them, as a tuple."""
    if value is None:
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return (value,)
    return value


def _finite(value: float | None, what: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    return value


class FitRule(_Strict):
    """Points for what a lead is: one operator on one field (a column or a custom field)."""

    name: str | None = None
    field: str = Field(min_length=1)
    points: float
    contains: tuple[str, ...] | None = None
    equals: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Scalar, ...] | None = None
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None
    matches: str | None = None
    exists: bool | None = None

    @field_validator("contains", "in_", "not_in", mode="before")
    @classmethod
    def _as_list(cls, value: object) -> object:
        return _words(value)

    @field_validator("contains", "in_", "not_in")
    @classmethod
    def _not_empty(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if value is not None and not value:
            raise ValueError("write at least one value")
        return value

    @field_validator("points", "gte", "lte", "gt", "lt")
    @classmethod
    def _number(cls, value: float | None) -> float | None:
        return _finite(value, "the value")

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_operator(self) -> FitRule:
        used = self.operators()
        if len(used) != 1:
            found = f"found {', '.join(used)}" if used else "found none"
            raise ValueError(
                f"a fit rule needs exactly one operator of {', '.join(FIT_OPERATORS)} ({found})"
            )
        return self

    def operators(self) -> list[str]:
        values = {name: getattr(self, "in_" if name == "in" else name) for name in FIT_OPERATORS}
        return [name for name, value in values.items() if value is not None]

    @property
    def operator(self) -> str:
        return self.operators()[0]

    @property
    def operand(self) -> Any:
        return getattr(self, "in_" if self.operator == "in" else self.operator)

    @property
    def label(self) -> str:
        """The rule's name, else a description such as ``title contains Head, VP``."""
        if self.name:
            return self.name
        operand = self.operand
        if isinstance(operand, tuple):
            operand = ", ".join(str(v) for v in operand)
        if self.operator == "exists":
            return f"{self.field} {'exists' if operand else 'is missing'}"
        return f"{self.field} {self.operator.replace('_', ' ')} {operand}"


class EngagementRule(_Strict):
    """Points for what a lead did: one kind of event, decaying with its age."""

    name: str | None = None
    event: Literal["reply", "link_clicked", "activity", "call_logged", "captured"]
    points: float
    intent: tuple[str, ...] | None = None
    type: tuple[str, ...] | None = None
    outcome: tuple[str, ...] | None = None
    source: tuple[str, ...] | None = None
    half_life_days: float | None = Field(default=None, gt=0)
    max: int | None = Field(default=None, ge=1)

    @field_validator("intent", "type", "outcome", "source", mode="before")
    @classmethod
    def _as_list(cls, value: object) -> object:
        return _words(value)

    @field_validator("points", "half_life_days")
    @classmethod
    def _number(cls, value: float | None) -> float | None:
        return _finite(value, "the value")

    @field_validator("intent")
    @classmethod
    def _intents(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for intent in value or ():
            if intent not in INTENTS:
                raise ValueError(
                    f"unknown intent {intent!r}{did_you_mean(intent, set(INTENTS))} "
                    f"(one of {', '.join(INTENTS)})"
                )
        return value

    @model_validator(mode="after")
    def _filters_fit_the_event(self) -> EngagementRule:
        for key, event in _FILTERS.items():
            if getattr(self, key) is not None and self.event != event:
                raise ValueError(f"'{key}' applies only to 'event: {event}'")
        return self

    @property
    def label(self) -> str:
        """The rule's name, else a description such as ``reply positive``."""
        if self.name:
            return self.name
        parts: list[str] = [self.event]
        for key in _FILTERS:
            value = getattr(self, key)
            if value:
                parts.append("/".join(value))
        return " ".join(parts)


class Thresholds(_Strict):
    """The scores that make a lead an MQL, and a candidate for sales acceptance."""

    mql: float
    sql_candidate: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.sql_candidate is not None and self.sql_candidate <= self.mql:
            raise ValueError(
                f"sql_candidate ({self.sql_candidate:g}) must be higher than mql ({self.mql:g})"
            )
        return self


def _cross_actions(value: object) -> tuple[str, ...]:
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise ValueError("write an action or a list of actions")
    actions = tuple(a.strip() for a in raw)
    for action in actions:
        if action not in CROSS_ACTIONS and not (
            action.startswith(ENROLL_PREFIX) and len(action) > len(ENROLL_PREFIX)
        ):
            raise ValueError(
                f"unknown action {action!r}{did_you_mean(action, set(CROSS_ACTIONS))} — use "
                f"{', '.join(CROSS_ACTIONS)} or enroll:SEQUENCE"
            )
    return actions


class ScoringConfig(_Strict):
    """The whole of ``scoring.yaml``."""

    model: Literal["rules", "learned"] = "rules"
    fit: tuple[FitRule, ...] = ()
    engagement: tuple[EngagementRule, ...] = ()
    thresholds: Thresholds | None = None
    on_cross: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # How often a score whose engagement decays is computed again (it also is at every event).
    decay_every_hours: float = Field(default=24, gt=0, le=24 * 30)

    @field_validator("fit", "engagement", "on_cross", mode="before")
    @classmethod
    def _empty(cls, value: object, info: Any) -> object:
        if value is None:
            return {} if info.field_name == "on_cross" else ()
        return value

    @field_validator("on_cross", mode="before")
    @classmethod
    def _actions(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        for key in value:
            if key not in THRESHOLDS:
                raise ValueError(
                    f"unknown threshold {key!r}{did_you_mean(str(key), set(THRESHOLDS))} — "
                    f"use {' or '.join(THRESHOLDS)}"
                )
        return {key: _cross_actions(actions) for key, actions in value.items()}

    @model_validator(mode="after")
    def _crossings_need_thresholds(self) -> ScoringConfig:
        for name in self.on_cross:
            if self.thresholds is None or getattr(self.thresholds, name) is None:
                raise ValueError(f"on_cross.{name}: no '{name}' under 'thresholds'")
        return self

    def threshold_items(self) -> list[tuple[str, float]]:
        """(name, score) of each threshold set, lowest first."""
        if self.thresholds is None:
            return []
        found = [(name, getattr(self.thresholds, name)) for name in THRESHOLDS]
        return [(name, value) for name, value in found if value is not None]

    def enroll_targets(self) -> list[tuple[str, int, str]]:
        """(threshold, index, sequence) of every ``enroll:SEQUENCE`` action."""
        return [
            (name, index, action[len(ENROLL_PREFIX) :])
            for name, actions in self.on_cross.items()
            for index, action in enumerate(actions)
            if action.startswith(ENROLL_PREFIX)
        ]


@dataclass(frozen=True)
class ScoringFile:
    """A valid ``scoring.yaml``: the config, the path as shown and its lines."""

    config: ScoringConfig
    shown: str
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line(self, *loc: str | int) -> int:
        return line_for(dict(self.lines), loc)


def scoring_path(home: Path) -> Path:
    return home / SCORING_FILE


def load_scoring(path: Path, home: Path | None = None) -> tuple[ScoringFile | None, list[Problem]]:
    """Read ``path``: the config (None when there is no file or it is invalid) and every
    problem found as ``path:line: message``."""
    shown = display_path(path, home)
    if not path.is_file():
        return None, []
    read = read_mapping(
        path, shown, "scoring.yaml must be a mapping with fit, engagement, thresholds"
    )
    if isinstance(read, Problem):
        return None, [read]
    data, lines = read
    try:
        config = ScoringConfig.model_validate(data)
    except ValidationError as exc:
        problems = [field_problem(shown, lines, error, _KNOWN) for error in exc.errors()]
        return None, sorted(set(problems), key=lambda p: (p.line, p.message))
    return ScoringFile(config, shown, lines), []


def check_sequences(loaded: ScoringFile, sequences: set[str] | list[str]) -> list[Problem]:
    """Problems with ``enroll:SEQUENCE`` actions naming no sequence of the catalog."""
    known = set(sequences)
    return [
        Problem(
            loaded.shown,
            loaded.line("on_cross", threshold, index),
            f"on_cross.{threshold}: no sequence named {name!r} in sequences/"
            f"{did_you_mean(name, known)} (known: {', '.join(sorted(known)) or 'none'})",
        )
        for threshold, index, name in loaded.config.enroll_targets()
        if name not in known
    ]


_KNOWN: dict[tuple[str, ...], list[str]] = {
    (): list(ScoringConfig.model_fields),
    ("fit",): ["name", "field", "points", *FIT_OPERATORS],
    ("engagement",): [str(name) for name in EngagementRule.model_fields],
    ("thresholds",): list(THRESHOLDS),
    ("on_cross",): list(THRESHOLDS),
}


def _read(home: Path) -> tuple[ScoringConfig | None, list[Problem]]:
    loaded, problems = load_scoring(scoring_path(home), home)
    return (loaded.config if loaded is not None else None), problems


_CACHE: ReadWhileUnchanged[tuple[ScoringConfig | None, list[Problem]]] = ReadWhileUnchanged(
    scoring_path, _read, (None, [])
)


def scoring_config(home: Path) -> tuple[ScoringConfig | None, list[Problem]]:
    """The project's scoring config (None: no scoring.yaml, or an invalid one) and problems."""
    return _CACHE.get(home)


__all__ = [
    "CROSS_ACTIONS",
    "ENGAGEMENT_EVENTS",
    "FIT_OPERATORS",
    "SCORING_FILE",
    "THRESHOLDS",
    "EngagementRule",
    "FitRule",
    "ScoringConfig",
    "ScoringFile",
    "Thresholds",
    "check_sequences",
    "load_scoring",
    "scoring_config",
    "scoring_path",
]
