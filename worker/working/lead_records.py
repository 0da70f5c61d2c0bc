"""What a rep records about a lead without touching its sequences: a note, a call with its
outcome, edited fields and the lead's owner. Each is an event on the lead's timeline (cause
``rep: NAME``); calls and edits mark the lead for scoring, as its rules may read them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import FieldError, NotFoundError, did_you_mean
from worker.leads.importing import column_name, validate_row
from worker.review.reps import rep_names
from worker.store import events
from worker.store.marks import mark
from worker.store.models import LEAD_COLUMNS, Lead, Rep
from worker.tracking.activities import CALL_OUTCOMES, record_call
from worker.vocabulary import EventKind
from worker.working.outcomes import Outcome, cause_of
from worker.working.outcomes import outcome as result_of

MAX_NOTE = 5000
MAX_FIELD_NAME = 64
# Fields an edit does not change, and what to do instead.
NOT_EDITED: dict[str, str] = {
    "email": "The address cannot be edited: a new address is a new lead — import it, and "
    "stop this one.",
    "stage": "Change the stage with the stage action ('outreach leads stage EMAIL STAGE').",
    "status": "The status follows the lead's sequences — pause, resume, stop or enroll it.",
    "owner": "Assign an owner with 'outreach leads assign EMAIL REP'.",
    "id": "The id cannot be edited.",
}


def add_note(session: Session, lead: Lead, text: str, *, at: datetime, by: str | None) -> Outcome:
    """Keep a rep's note on the lead's timeline."""
    note = _text("text", text, MAX_NOTE, "note")
    if note is None:
        raise FieldError("text", "The note is empty — write what happened.")
    events.record(
        session, EventKind.NOTE_ADDED, at=at, lead_id=lead.id, cause=cause_of(by), note=note
    )
    return result_of(lead, True, f"Note added to {lead.email}.")


def log_call(
    session: Session,
    lead: Lead,
    outcome: str,
    *,
    note: str | None,
    at: datetime,
    by: str | None,
) -> Outcome:
    """Record a call with the lead and how it went (as ``outreach events log-call`` does:
    the same outcomes, the same scoring)."""
    said = (outcome or "").strip().lower().replace(" ", "_")
    if said not in CALL_OUTCOMES:
        raise FieldError(
            "outcome",
            f"Call outcome {outcome!r} is not known{did_you_mean(said, set(CALL_OUTCOMES))} "
            f"(outcomes: {', '.join(CALL_OUTCOMES)}).",
        )
    text = _text("note", note, MAX_NOTE, "note")
    record_call(session, lead.id, said, at=at, note=text, rep=by, cause=cause_of(by))
    return result_of(lead, True, f"Call with {lead.email} logged: {said.replace('_', ' ')}.")


def update_fields(
    session: Session,
    lead: Lead,
    changes: Mapping[str, str | None],
    *,
    at: datetime,
    by: str | None,
) -> Outcome:
    """Set the lead's fields — first_name, last_name, company, timezone, country, deal_value
    or any custom field — checked as the import checks them; an empty value clears a field.
    FieldError names the first bad one (nothing is changed then)."""
    if not changes:
        raise FieldError("fields", "Nothing to change — give field=value pairs.")
    asked: dict[str, str | None] = {}
    for raw, value in changes.items():
        key = column_name(str(raw))
        if not key or len(key) > MAX_FIELD_NAME:
            raise FieldError(
                str(raw)[:MAX_FIELD_NAME],
                f"{str(raw)[:MAX_FIELD_NAME]!r} is not a field name — use letters, digits and "
                f"'_' (at most {MAX_FIELD_NAME}).",
            )
        if key in NOT_EDITED:
            raise FieldError(key, NOT_EDITED[key])
        asked[key] = value.strip() if value is not None and value.strip() else None
    given = {key: value for key, value in asked.items() if value is not None}
    parsed, errors = validate_row({"email": lead.email, **given})
    if errors:
        field, message = next(iter(errors.items()))
        raise FieldError(field, message)
    fields = dict(lead.fields or {})
    changed: dict[str, list[Any]] = {}
    for key, value in asked.items():
        new: Any = parsed.get("deal_value") if key == "deal_value" else parsed["fields"].get(key)
        new = None if value is None else new
        old = getattr(lead, key) if key in LEAD_COLUMNS else fields.get(key)
        if (old in (None, "") and new is None) or old == new:
            continue
        changed[key] = [old, new]
        if key in LEAD_COLUMNS:
            setattr(lead, key, new)
        if key == "deal_value":
            continue
        if new is None:
            fields.pop(key, None)
        else:
            fields[key] = new
    if not changed:
        return result_of(lead, False, f"{lead.email}: nothing changed.")
    lead.fields = fields
    lead.updated_at = at
    events.record(
        session,
        EventKind.FIELDS_CHANGED,
        at=at,
        lead_id=lead.id,
        cause=cause_of(by),
        changes=changed,
    )
    mark(session, [lead.id], at)  # fit rules may read the fields
    return result_of(lead, True, f"{lead.email}: {', '.join(sorted(changed))} changed.")


def set_owner(
    session: Session, lead: Lead, owner: str | None, *, at: datetime, by: str | None
) -> Outcome:
    """Make rep ``owner`` (a rep's name; None or empty: nobody) the lead's owner;
    NotFoundError for an unknown rep."""
    return assign_owner(session, lead, check_owner(session, owner), at=at, by=by)


def assign_owner(
    session: Session, lead: Lead, name: str | None, *, at: datetime, by: str | None
) -> Outcome:
    """``set_owner`` with a name ``check_owner`` gave already (a bulk action checks once)."""
    if lead.owner == name:
        return result_of(lead, False, f"{lead.email} is owned by {name or 'nobody'} already.")
    previous = lead.owner
    lead.owner = name
    lead.updated_at = at
    events.record(
        session,
        EventKind.OWNER_CHANGED,
        at=at,
        lead_id=lead.id,
        cause=cause_of(by),
        previous=previous,
        owner=name,
    )
    return result_of(lead, True, f"{lead.email} is now owned by {name or 'nobody'}.")


def check_owner(session: Session, owner: str | None) -> str | None:
    """The rep's name as stored (None for nobody); NotFoundError for an unknown rep."""
    name = (owner or "").strip().lower() or None
    if name is not None and session.scalar(select(Rep.id).where(Rep.name == name)) is None:
        known = rep_names(session)
        raise NotFoundError(
            f"No rep {owner!r}{did_you_mean(name, set(known))} (see 'outreach reps list')."
        )
    return name


def _text(field: str, value: str | None, limit: int, what: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise FieldError(field, f"The {what} is longer than {limit} characters — shorten it.")
    return text or None


__all__ = [
    "CALL_OUTCOMES",
    "MAX_NOTE",
    "NOT_EDITED",
    "add_note",
    "assign_owner",
    "check_owner",
    "log_call",
    "set_owner",
    "update_fields",
]
