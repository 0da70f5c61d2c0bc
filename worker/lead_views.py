"""Read models for leads: list rows and the full record with its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from .clock import as_utc, iso
from .errors import NotFoundError
from .leads import normalise_email
from .models import LEAD_COLUMNS, Enrollment, Event, InboundMessage, Lead, ReviewItem, Touch

_OPEN_FIRST = {"active": 0, "paused": 1, "completed": 2, "stopped": 3}


def current_enrollments(session: Session, lead_ids: list[int]) -> dict[int, Enrollment]:
    """Each lead's current enrollment: an open one, else the most recent."""
    best: dict[int, Enrollment] = {}
    for start in range(0, len(lead_ids), 1000):
        chunk = lead_ids[start : start + 1000]
        for enrollment in session.scalars(select(Enrollment).where(Enrollment.lead_id.in_(chunk))):
            current = best.get(enrollment.lead_id)
            if current is None or _rank(enrollment) < _rank(current):
                best[enrollment.lead_id] = enrollment
    return best


def _rank(enrollment: Enrollment) -> tuple[int, float]:
    return (_OPEN_FIRST.get(enrollment.status, 9), -enrollment.enrolled_at.timestamp())


def list_leads(
    session: Session,
    *,
    stage: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Lead rows as in the command-line contract (times ISO 8601 UTC)."""
    query = select(Lead).order_by(Lead.id)
    if stage:
        query = query.where(Lead.stage == stage)
    if status:
        query = query.where(Lead.status == status)
    if limit:
        query = query.limit(limit)
    leads = list(session.scalars(query))
    enrollments = current_enrollments(session, [lead.id for lead in leads])
    return [lead_row(lead, enrollments.get(lead.id)) for lead in leads]


def _step_number(enrollment: Enrollment) -> int:
    """The step a lead is at: the next one while enrolled, the last one sent when finished."""
    if enrollment.status in ("active", "paused"):
        return enrollment.current_step + 1
    return max(enrollment.current_step, 1)


def lead_row(lead: Lead, enrollment: Enrollment | None) -> dict[str, Any]:
    """One lead as a flat dictionary."""
    return {
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "stage": lead.stage,
        "status": lead.status,
        "sequence": enrollment.sequence if enrollment else None,
        "step": _step_number(enrollment) if enrollment else None,
        "enrollment_status": enrollment.status if enrollment else None,
        "next_due_at": iso(enrollment.next_due_at) if enrollment else None,
        "deal_value": lead.deal_value,
        "timezone": lead.timezone,
        "updated_at": iso(lead.updated_at),
    }


def find_lead(session: Session, email: str) -> Lead:
    """The lead with this address; NotFoundError otherwise."""
    try:
        normalised = normalise_email(email)
    except ValueError as exc:
        raise NotFoundError(f"{email!r}: {exc}") from None
    lead = session.scalar(select(Lead).where(Lead.email == normalised))
    if lead is None:
        raise NotFoundError(
            f"No lead with email {normalised!r} — import it with 'outreach leads import FILE.csv'."
        )
    return lead


def show_lead(session: Session, email: str) -> dict[str, Any]:
    """The lead, its fields, enrollments, touches, open review items and timeline."""
    return _record(_gather(session, find_lead(session, email)))


@dataclass
class _Gathered:
    """Everything recorded about one lead, oldest first."""

    lead: Lead
    enrollments: list[Enrollment]
    current: Enrollment | None
    touches: list[Touch]
    events: list[Event]
    review: list[ReviewItem]
    replies: list[InboundMessage]


def _gather(session: Session, lead: Lead) -> _Gathered:
    enrollments = list(
        session.scalars(
            select(Enrollment).where(Enrollment.lead_id == lead.id).order_by(Enrollment.id)
        )
    )
    current = current_enrollments(session, [lead.id]).get(lead.id)
    touches = list(
        session.scalars(select(Touch).where(Touch.lead_id == lead.id).order_by(Touch.id))
    )
    events = list(
        session.scalars(select(Event).where(Event.lead_id == lead.id).order_by(Event.at, Event.id))
    )
    review = list(
        session.scalars(
            select(ReviewItem).where(ReviewItem.lead_id == lead.id).order_by(ReviewItem.id)
        )
    )
    replies = list(
        session.scalars(
            select(InboundMessage)
            .where(InboundMessage.lead_id == lead.id)
            .order_by(InboundMessage.received_at, InboundMessage.id)
        )
    )
    return _Gathered(lead, enrollments, current, touches, events, review, replies)


def _record(gathered: _Gathered) -> dict[str, Any]:
    lead, current, enrollments = gathered.lead, gathered.current, gathered.enrollments
    touches, events, review, replies = (
        gathered.touches,
        gathered.events,
        gathered.review,
        gathered.replies,
    )
    return {
        **lead_row(lead, current),
        "fields": lead.fields,
        "created_at": iso(lead.created_at),
        "enrollments": [
            {
                "sequence": e.sequence,
                "status": e.status,
                "step": _step_number(e),
                "next_due_at": iso(e.next_due_at),
                "resume_at": iso(e.resume_at),
                "mailbox": e.mailbox,
                "enrolled_at": iso(e.enrolled_at),
                "finished_at": iso(e.finished_at),
            }
            for e in enrollments
        ],
        "touches": [
            {
                "id": t.id,
                "sequence": t.sequence,
                "step": t.step_index + 1,
                "kind": t.kind,
                "variant": t.variant,
                "status": t.status,
                "due_at": iso(t.due_at),
                "finished_at": iso(t.finished_at),
                "attempts": t.attempts,
                "subject": t.subject,
                "message_id": t.message_id,
                "error": t.last_error,
                "delivery_unknown": t.status == "unknown",
            }
            for t in touches
        ],
        "replies": [reply_row(m) for m in replies],
        "stage_history": [
            {
                "at": iso(e.at),
                "from": e.detail.get("previous"),
                "to": e.detail.get("stage"),
                "cause": e.cause,
            }
            for e in events
            if e.kind == "stage_changed"
        ],
        "review": [
            {
                "id": r.id,
                "reason": r.reason,
                "detail": r.detail,
                "suggested_action": r.suggested_action,
                "created_at": iso(r.created_at),
                "resolved_at": iso(r.resolved_at),
                "resolution": r.resolution,
            }
            for r in review
        ],
        "timeline": [
            {
                "at": iso(e.at),
                "kind": e.kind,
                "sequence": e.sequence,
                "step": e.step_index + 1 if e.step_index is not None else None,
                "cause": e.cause,
                "touch_id": e.touch_id,
                "detail": e.detail,
            }
            for e in events
        ],
    }


def reply_row(message: InboundMessage) -> dict[str, Any]:
    """One inbound message as the lead's record and the review queue show it."""
    return {
        "id": message.id,
        "received_at": iso(message.received_at),
        "from": message.from_address,
        "subject": message.subject,
        "status": message.status,
        "matched_by": message.matched_by,
        "intent": message.intent,
        "confidence": message.confidence,
        "return_date": message.return_date.isoformat() if message.return_date else None,
        "referral_email": message.referral_email,
        "reasons": (message.classification or {}).get("reasons", []),
        "text": message.reply_text,
        "error": message.error,
    }


# --- the web pages: a page of the list, one lead's whole story ---------------------------

LEADS_PER_PAGE = 50


def leads_page(
    session: Session,
    *,
    stage: str | None = None,
    status: str | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = LEADS_PER_PAGE,
) -> dict[str, Any]:
    """One page of lead rows (each with its ``id``), filtered by stage, status and an
    email/company substring, with the total count and the number of pages."""
    conditions: list[ColumnElement[bool]] = []
    if stage:
        conditions.append(Lead.stage == stage)
    if status:
        conditions.append(Lead.status == status)
    if search:
        conditions.append(
            or_(
                Lead.email.icontains(search, autoescape=True),
                Lead.company.icontains(search, autoescape=True),
            )
        )
    total = session.scalar(select(func.count(Lead.id)).where(*conditions)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    leads = list(
        session.scalars(
            select(Lead)
            .where(*conditions)
            .order_by(Lead.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    enrollments = current_enrollments(session, [lead.id for lead in leads])
    rows = [{**lead_row(lead, enrollments.get(lead.id)), "id": lead.id} for lead in leads]
    return {"rows": rows, "total": total, "page": page, "pages": pages, "per_page": per_page}


_STANDARD_FIELDS = frozenset({"email", "stage", *LEAD_COLUMNS})


def lead_page(session: Session, lead_id: int) -> dict[str, Any]:
    """The lead's record (as ``show_lead``) plus ``id``, ``country``, its open review items
    and ``entries``: touches (with the text as sent), replies and events in one
    chronological list. NotFoundError for an unknown id."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFoundError(f"No lead with id {lead_id}.")
    gathered = _gather(session, lead)
    record = _record(gathered)
    return {
        **record,
        "id": lead.id,
        "country": lead.country,
        "open_review": [r for r in record["review"] if r["resolved_at"] is None],
        # CSV columns beyond the standard ones (the import keeps every column in ``fields``).
        "custom_fields": {
            key: value
            for key, value in (lead.fields or {}).items()
            if key not in _STANDARD_FIELDS and value not in (None, "")
        },
        "entries": timeline_entries(gathered),
    }


def timeline_entries(gathered: _Gathered) -> list[dict[str, Any]]:
    """Touches, replies and events of a lead, oldest first; each with ``type``, ``at``
    (ISO 8601 UTC) and what the timeline page shows.

    A touch takes the place of its ``sent`` event and a reply that of its ``reply_received``
    event (those events are not listed again). A reply without such an event comes before
    the events of the same moment (what its classification caused); a touch not sent (yet)
    after them.
    """
    touch_ids = {t.id for t in gathered.touches}
    reply_ids = {m.id for m in gathered.replies}
    sent_at: dict[int, Event] = {}
    received_at: dict[int, Event] = {}
    for e in gathered.events:
        if e.kind == "sent" and e.touch_id in touch_ids:
            sent_at.setdefault(e.touch_id, e)
        inbound_id = (e.detail or {}).get("inbound_id")
        if e.kind == "reply_received" and inbound_id in reply_ids:
            received_at.setdefault(inbound_id, e)
    folded = {e.id for e in (*sent_at.values(), *received_at.values())}
    keyed: list[tuple[tuple[datetime, int, int], dict[str, Any]]] = []
    for t in gathered.touches:
        anchor = sent_at.get(t.id)
        at = t.finished_at or t.due_at
        entry = {
            "type": "touch",
            "at": iso(at),
            "id": t.id,
            "kind": t.kind,
            "sequence": t.sequence,
            "step": t.step_index + 1,
            "status": t.status,
            "mailbox": t.mailbox,
            "subject": t.subject,
            "variant": t.variant,
            "sent_at": iso(t.finished_at) if t.status == "sent" else None,
            "sent_by": anchor.cause if anchor is not None and anchor.cause != "due" else None,
            "due_at": iso(t.due_at),
            "error": t.last_error,
            "body_text": t.body_text,
        }
        key = (as_utc(anchor.at), 1, anchor.id) if anchor else (as_utc(at), 2, t.id)
        keyed.append((key, entry))
    for m in gathered.replies:
        anchor = received_at.get(m.id)
        entry = {"type": "reply", "at": iso(m.received_at), **reply_row(m)}
        key = (as_utc(anchor.at), 1, anchor.id) if anchor else (as_utc(m.received_at), 0, m.id)
        keyed.append((key, entry))
    for e in gathered.events:
        if e.id in folded:
            continue
        entry = {
            "type": "event",
            "at": iso(e.at),
            "kind": e.kind,
            "sequence": e.sequence,
            "step": e.step_index + 1 if e.step_index is not None else None,
            "cause": e.cause,
            "summary": event_summary(e.kind, e.cause, e.detail or {}),
        }
        keyed.append(((as_utc(e.at), 1, e.id), entry))
    keyed.sort(key=lambda row: row[0])
    return [entry for _, entry in keyed]


# Details worth a word on the timeline (the rest are ids and message headers).
_SHOWN_DETAILS = (
    "confidence",
    "return_date",
    "referral_email",
    "resume_at",
    "actions",
    "assignee",
    "value",
    "recipients",
    "mailbox",
    "error",
    "retry_in_s",
    "available_at",
    "detail",
    "note",
)


def event_summary(kind: str, cause: str | None, detail: dict[str, Any]) -> str:
    """An event's details as one line of text: ``stage_changed`` as "from → to", a pause
    with its resume time, a classification with its confidence, else "key: value" parts."""
    if kind == "stage_changed":
        return f"{detail.get('previous') or '?'} → {detail.get('stage') or '?'}"
    if kind == "assigned":
        return f"{detail.get('previous') or 'nobody'} → {detail.get('assignee') or 'nobody'}"
    parts: list[str] = []
    if kind == "classified" and cause:
        confidence = detail.get("confidence")
        parts.append(
            f"{cause} ({confidence:.0%})" if isinstance(confidence, (int, float)) else cause
        )
    elif kind == "paused" and detail.get("resume_at"):
        parts.append(f"until {_readable(detail['resume_at'])}")
    for key in _SHOWN_DETAILS:
        if kind == "classified" and key == "confidence":
            continue
        if kind == "paused" and key == "resume_at":
            continue
        value = detail.get(key)
        if value in (None, "", [], False):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        label = "" if key == "detail" else f"{key.replace('_', ' ')}: "
        parts.append(f"{label}{_readable(value)}")
    return "; ".join(parts)


def _readable(value: Any) -> str:
    """A detail value as text; ISO 8601 times as "2027-01-12 09:00 UTC"."""
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)
