"""The score of one lead from the rules: pure, fast, explained.

``score_lead(config, lead, events, at)`` adds the points of every fit rule the lead matches
and of every engagement event a rule counts, each event's points halved every
``half_life_days`` of its age (decay), the newest ``max`` events of a rule at most. Every
contribution says which rule, how many points and how old: that list is the "why".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from worker.scoring.config import EngagementRule, FitRule, ScoringConfig
from worker.vocabulary import EventKind

# The lead's own columns a fit rule may name; any other field is a custom one (Lead.fields).
LEAD_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "timezone",
    "country",
    "deal_value",
    "stage",
    "status",
    "qualification",
)
EVENT_KINDS: Mapping[str, EventKind] = {
    "reply": EventKind.CLASSIFIED,
    "link_clicked": EventKind.LINK_CLICKED,
    "activity": EventKind.ACTIVITY,
    "call_logged": EventKind.CALL_LOGGED,
    "captured": EventKind.CAPTURED,
}
# Engagement worth less than this (all rules together, after decay) no longer needs decaying.
NEGLIGIBLE_POINTS = 0.5
DAY_S = 86_400.0


class LeadLike(Protocol):
    """What scoring reads of a lead: its columns and its custom ``fields``."""

    @property
    def fields(self) -> Mapping[str, Any] | None: ...


class EventLike(Protocol):
    """What scoring reads of an event."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def cause(self) -> str | None: ...
    @property
    def detail(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class Score:
    """A lead's score and why: each contribution a dict with ``rule``, ``section`` (fit or
    engagement), ``points`` and, for engagement, ``base`` points, ``age_days``, ``at``."""

    value: float
    contributions: tuple[dict[str, Any], ...] = ()
    fit: float = 0.0
    engagement: float = 0.0
    # Whether some engagement still decays by more than a negligible amount.
    decaying: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def score_lead(
    config: ScoringConfig, lead: LeadLike, events: Iterable[EventLike], at: datetime
) -> Score:
    """The score of ``lead`` at ``at`` from the rules of ``config`` and the lead's events
    (events after ``at`` and of kinds no rule counts are ignored)."""
    contributions: list[dict[str, Any]] = []
    fit = 0.0
    for fit_rule in config.fit:
        if fit_matches(fit_rule, field_value(lead, fit_rule.field)):
            fit += fit_rule.points
            contributions.append(
                {"rule": fit_rule.label, "section": "fit", "points": fit_rule.points}
            )
    engagement = 0.0
    decaying = 0.0
    if config.engagement:
        ordered = sorted((e for e in events if e.at <= at), key=lambda e: (e.at, e.id))
        ordered.reverse()  # newest first: ``max`` keeps the newest
        for rule in config.engagement:
            counted = 0
            for event in ordered:
                if rule.max is not None and counted >= rule.max:
                    break
                if not engagement_matches(rule, event):
                    continue
                counted += 1
                age_days = max(0.0, (at - event.at).total_seconds() / DAY_S)
                points = decayed(rule.points, age_days, rule.half_life_days)
                engagement += points
                if rule.half_life_days is not None:
                    decaying += abs(points)
                contributions.append(
                    {
                        "rule": rule.label,
                        "section": "engagement",
                        "points": round(points, 2),
                        "base": rule.points,
                        "age_days": round(age_days, 1),
                        "at": event.at.isoformat(),
                        "event_id": event.id,
                    }
                )
    value = round(fit + engagement, 2)
    return Score(
        value=value,
        contributions=tuple(contributions),
        fit=round(fit, 2),
        engagement=round(engagement, 2),
        decaying=decaying >= NEGLIGIBLE_POINTS,
    )


def decayed(points: float, age_days: float, half_life_days: float | None) -> float:
    """``points x 0.5^(age_days / half_life_days)``; no half-life: no decay."""
    if half_life_days is None:
        return points
    return float(points * 0.5 ** (age_days / half_life_days))


def field_value(lead: LeadLike, name: str) -> Any:
    """A lead column, else the custom field of that name (None when unset)."""
    if name in LEAD_COLUMNS:
        return getattr(lead, name, None)
    fields = lead.fields or {}
    return fields.get(name)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(" ", ""))
        except ValueError:
            return None
    return None


def _same(value: Any, expected: Any) -> bool:
    """Equal as numbers when both are numbers, else as text ignoring case and spaces."""
    left, right = _number(value), _number(expected)
    if left is not None and right is not None:
        return left == right
    return str(value).strip().casefold() == str(expected).strip().casefold()


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def fit_matches(rule: FitRule, value: Any) -> bool:
    """Whether a lead's ``value`` of the rule's field matches it (a missing value matches
    only ``exists: false``; a value that is no number matches no comparison)."""
    operator, operand = rule.operator, rule.operand
    if operator == "exists":
        return _present(value) is bool(operand)
    if not _present(value):
        return False
    if operator == "contains":
        text = str(value).casefold()
        return any(str(word).casefold() in text for word in operand)
    if operator == "equals":
        return _same(value, operand)
    if operator == "in":
        return any(_same(value, item) for item in operand)
    if operator == "not_in":
        return not any(_same(value, item) for item in operand)
    if operator == "matches":
        return _compiled(operand).search(str(value)) is not None
    number = _number(value)
    if number is None:
        return False
    limit = float(operand)
    if operator == "gte":
        return number >= limit
    if operator == "lte":
        return number <= limit
    if operator == "gt":
        return number > limit
    return number < limit


def _one_of(value: Any, allowed: tuple[str, ...] | None) -> bool:
    if allowed is None:
        return True
    return value is not None and str(value).casefold() in {a.casefold() for a in allowed}


def engagement_matches(rule: EngagementRule, event: EventLike) -> bool:
    """Whether the rule counts ``event``."""
    if event.kind != EVENT_KINDS[rule.event]:
        return False
    detail = event.detail or {}
    if rule.event == "reply":
        # A classification a person must confirm (low confidence) is not a signal yet.
        return not detail.get("low_confidence") and _one_of(event.cause, rule.intent)
    if rule.event == "link_clicked":
        return detail.get("counted") is True  # a scanner's click is recorded, not counted
    if rule.event == "activity":
        return _one_of(detail.get("type") or event.cause, rule.type)
    if rule.event == "call_logged":
        return _one_of(detail.get("outcome") or event.cause, rule.outcome)
    return _one_of(detail.get("source") or event.cause, rule.source)


def kinds_needed(config: ScoringConfig) -> list[EventKind]:
    """The event kinds the engagement rules count (none: no event need be read)."""
    return sorted({EVENT_KINDS[rule.event] for rule in config.engagement})


__all__ = [
    "EVENT_KINDS",
    "LEAD_COLUMNS",
    "Score",
    "decayed",
    "engagement_matches",
    "field_value",
    "fit_matches",
    "kinds_needed",
    "score_lead",
]
