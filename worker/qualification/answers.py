"""What a rep answers when accepting or rejecting a lead as SQL.

Accepting answers the three questions of sales acceptance: is the person interested (yes, no,
unsure), are they in a buying process now (yes or no, with a timeframe), and are they the
decision-maker (yes, or no and then who is). Rejecting needs one reason from a fixed list;
``other`` needs a note saying what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from worker.errors import OutreachError

INTERESTED = ("yes", "no", "unsure")
YES_NO = ("yes", "no")
REJECT_REASONS = (
    "not_interested",
    "no_budget",
    "no_timeline",
    "not_decision_maker",
    "bad_fit",
    "other",
)
MAX_TEXT = 200


@dataclass(frozen=True)
class Acceptance:
    """A rep's answers when accepting a lead as SQL."""

    interested: str
    buying_now: str
    timeframe: str | None
    decision_maker: str
    who: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rejection:
    """A rep's reason for rejecting a lead as SQL (``note``: what ``other`` means)."""

    reason: str
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _choice(answers: Mapping[str, str | None], key: str, allowed: tuple[str, ...]) -> str:
    value = (answers.get(key) or "").strip().lower()
    if value not in allowed:
        flag = key.replace("_", "-")
        shown = f"{value!r}" if value else "nothing"
        raise OutreachError(f"--{flag} is {shown} — answer one of {', '.join(allowed)}.")
    return value


def _text(answers: Mapping[str, str | None], key: str) -> str | None:
    value = (answers.get(key) or "").strip()
    if len(value) > MAX_TEXT:
        raise OutreachError(f"--{key.replace('_', '-')} is longer than {MAX_TEXT} characters.")
    return value or None


def acceptance(answers: Mapping[str, str | None]) -> Acceptance:
    """The answers of an acceptance, checked; OutreachError says which one is missing."""
    decision_maker = _choice(answers, "decision_maker", YES_NO)
    who = _text(answers, "who")
    if decision_maker == "no" and not who:
        raise OutreachError("--decision-maker no needs --who: the person who decides (name, role).")
    return Acceptance(
        interested=_choice(answers, "interested", INTERESTED),
        buying_now=_choice(answers, "buying_now", YES_NO),
        timeframe=_text(answers, "timeframe"),
        decision_maker=decision_maker,
        who=who,
    )


def rejection(answers: Mapping[str, str | None], note: str | None) -> Rejection:
    """The reason of a rejection, checked; ``other`` needs ``note``."""
    reason = (answers.get("reason") or "").strip().lower()
    if reason not in REJECT_REASONS:
        shown = f"{reason!r}" if reason else "missing"
        raise OutreachError(
            f"The reason is {shown} — reject with one of {', '.join(REJECT_REASONS)}."
        )
    note = (note or "").strip() or None
    if reason == "other" and not note:
        raise OutreachError("--reason other needs --note saying why the lead is not an SQL.")
    return Rejection(reason, note)


__all__ = [
    "INTERESTED",
    "REJECT_REASONS",
    "YES_NO",
    "Acceptance",
    "Rejection",
    "acceptance",
    "rejection",
]
