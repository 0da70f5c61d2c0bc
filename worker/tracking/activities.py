"""Engagement from outside the email: an activity posted by the website or a webinar tool
(``POST /api/events``) or imported from CSV, and a rep's logged call. Each is an event on the
lead's timeline (``activity`` with its type as cause; ``call_logged``) and a scoring mark.

``parse_activity`` checks the fields of one activity the same way for the API and the CSV
import: each problem names its field and says what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import NotFoundError
from worker.leads.addresses import normalise_email
from worker.store import events
from worker.store.marks import mark
from worker.store.models import Lead
from worker.vocabulary import EventKind

_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
# Types that are not activities from outside: what to use instead.
RESERVED_TYPES = {
    "call_logged": "log a rep's call with 'outreach events log-call EMAIL --outcome ...'",
    "link_clicked": "clicks are recorded by the tracked links themselves ('track_clicks')",
    "email_opened": "opens are recorded by the open pixel ('track_opens')",
}
CALL_OUTCOMES = ("connected", "voicemail", "no_answer")
# An activity dated this far ahead of the clock is a mistake (a wrong time zone, a typo).
FUTURE_SLACK = timedelta(minutes=5)
FIELDS = ("email", "type", "at", "detail")


@dataclass(frozen=True)
class Activity:
    """One checked activity: whose, what kind, when (None: now), and what else is known."""

    email: str
    type: str
    at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def parse_time(raw: str) -> datetime:
    """An ISO 8601 time (``2027-01-04T09:00:00Z``; without a zone: UTC) as aware UTC."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(
            f"{raw.strip()!r} is not an ISO 8601 time — write e.g. 2027-01-04T09:00:00Z"
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def parse_activity(
    values: Mapping[str, Any], now: datetime
) -> tuple[Activity | None, dict[str, str]]:
    """The activity in ``values`` (email, type, at, detail), or None and a message per bad
    field. Keys other than those four are errors too: a typo must not be ignored."""
    errors: dict[str, str] = {}
    for key in values:
        if key not in FIELDS:
            errors[str(key)[:100]] = f"unknown field — use {', '.join(FIELDS)}"
    email = ""
    raw_email = values.get("email")
    if not isinstance(raw_email, str):
        errors["email"] = "missing — give the lead's email address"
    else:
        try:
            email = normalise_email(raw_email)
        except ValueError as exc:
            errors["email"] = str(exc)
    raw_type = values.get("type")
    kind = raw_type.strip() if isinstance(raw_type, str) else ""
    if not kind:
        errors["type"] = "missing — name the activity, e.g. webinar_attended"
    elif kind in RESERVED_TYPES:
        errors["type"] = f"{kind!r} is not an outside activity: {RESERVED_TYPES[kind]}"
    elif not _TYPE.match(kind):
        errors["type"] = (
            f"{kind[:100]!r} is not a type — use lowercase letters, digits and '_', "
            "e.g. webinar_attended or pricing_page_visit"
        )
    at = None
    raw_at = values.get("at")
    if raw_at is not None and raw_at != "":
        if not isinstance(raw_at, str):
            errors["at"] = "must be an ISO 8601 time as text, e.g. 2027-01-04T09:00:00Z"
        else:
            try:
                at = parse_time(raw_at)
            except ValueError as exc:
                errors["at"] = str(exc)
            else:
                if at > now + FUTURE_SLACK:
                    errors["at"] = (
                        f"{raw_at.strip()!r} is in the future — check the time zone "
                        "(times without one are UTC)"
                    )
    detail = values.get("detail")
    if detail is None:
        detail = {}
    elif not isinstance(detail, dict):
        errors["detail"] = 'must be an object, e.g. {"webinar": "Q1 forecasting"}'
    if errors:
        return None, errors
    assert isinstance(detail, dict)
    return Activity(email=email, type=kind, at=at, detail=detail), {}


def lead_ids(session: Session, emails: Iterable[str]) -> dict[str, int]:
    """Normalised address → lead id, for those of ``emails`` that are leads."""
    wanted = sorted(set(emails))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(select(Lead.email, Lead.id).where(Lead.email.in_(chunk)))
        found.update((email, lead_id) for email, lead_id in rows)
    return found


def record_activities(
    session: Session, activities: list[tuple[Activity, int]], now: datetime, source: str
) -> None:
    """Record each (activity, lead id): an ``activity`` event (cause: its type; detail:
    source and data) at its time (default: now), and mark the leads for scoring."""
    events.record_many(
        session,
        [
            {
                "kind": EventKind.ACTIVITY,
                "at": activity.at or now,
                "lead_id": lead_id,
                "cause": activity.type,
                "detail": {"source": source, "data": activity.detail},
            }
            for activity, lead_id in activities
        ],
    )
    mark(session, (lead_id for _, lead_id in activities), now)


def record_activity(session: Session, activity: Activity, now: datetime, source: str) -> int:
    """Record one activity of a known lead; its lead id. NotFoundError for an unknown lead."""
    found = lead_ids(session, [activity.email]).get(activity.email)
    if found is None:
        raise NotFoundError(no_lead(activity.email))
    record_activities(session, [(activity, found)], now, source)
    return found


def log_call(
    session: Session,
    email: str,
    outcome: str,
    *,
    at: datetime,
    note: str | None = None,
    rep: str | None = None,
) -> int:
    """Record a rep's call with a lead (``call_logged``, cause: its outcome) and mark the lead;
    its lead id. ValueError for an unknown outcome or address, NotFoundError for no lead."""
    if outcome not in CALL_OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(CALL_OUTCOMES)}")
    address = normalise_email(email)
    lead_id = lead_ids(session, [address]).get(address)
    if lead_id is None:
        raise NotFoundError(no_lead(address))
    record_call(session, lead_id, outcome, at=at, note=note, rep=rep)
    return lead_id


def record_call(
    session: Session,
    lead_id: int,
    outcome: str,
    *,
    at: datetime,
    note: str | None = None,
    rep: str | None = None,
    cause: str | None = None,
) -> None:
    """Record a call with a known lead (``call_logged``; cause: ``cause``, default the
    outcome; detail: outcome, note, rep — scoring reads the outcome) and mark the lead.
    ValueError for an unknown outcome."""
    if outcome not in CALL_OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(CALL_OUTCOMES)}")
    detail: dict[str, Any] = {"outcome": outcome}
    if note:
        detail["note"] = note
    if rep:
        detail["rep"] = rep
    events.record(
        session, EventKind.CALL_LOGGED, at=at, lead_id=lead_id, cause=cause or outcome, **detail
    )
    mark(session, [lead_id], at)


def no_lead(email: str) -> str:
    return (
        f"no lead with the address {email!r} — import the lead first "
        "('outreach leads import') or check the address"
    )


__all__ = [
    "CALL_OUTCOMES",
    "RESERVED_TYPES",
    "Activity",
    "lead_ids",
    "log_call",
    "no_lead",
    "parse_activity",
    "parse_time",
    "record_activities",
    "record_activity",
    "record_call",
]
