"""Read models for leads: list rows and the full record with its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clock import iso
from worker.errors import NotFoundError
from worker.leads.addresses import normalise_email
from worker.leads.locales import stated_currency
from worker.store.dialect import is_postgres
from worker.store.models import Enrollment, Event, InboundMessage, Lead, ReviewItem, Touch
from worker.vocabulary import EnrollmentStatus, EventKind, TouchStatus

# How a lead's current enrollment is chosen: the lowest rank, then the latest enrolled.
OPEN_FIRST: dict[str, int] = {
    EnrollmentStatus.ACTIVE: 0,
    EnrollmentStatus.PAUSED: 1,
    EnrollmentStatus.COMPLETED: 2,
    EnrollmentStatus.STOPPED: 3,
}
OTHER_RANK = 9


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
    return (OPEN_FIRST.get(enrollment.status, OTHER_RANK), -enrollment.enrolled_at.timestamp())


def list_leads(
    session: Session,
    *,
    stage: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    sort: str = "id",
) -> list[dict[str, Any]]:
    """Lead rows as in the command-line contract (times ISO 8601 UTC); ``sort="score"``:
    highest score first, never-scored leads last (read along ``ix_leads_score``)."""
    query = select(Lead).order_by(*by_score(session)) if sort == "score" else select(Lead)
    query = query.order_by(Lead.id)
    if stage:
        query = query.where(Lead.stage == stage)
    if status:
        query = query.where(Lead.status == status)
    if limit:
        query = query.limit(limit)
    leads = list(session.scalars(query))
    enrollments = current_enrollments(session, [lead.id for lead in leads])
    return [lead_row(lead, enrollments.get(lead.id)) for lead in leads]


def by_score(session: Session) -> tuple[Any, ...]:
    """ORDER BY for "highest score first, unscored last" as ``ix_leads_score`` is written:
    SQLite sorts NULL last when descending, PostgreSQL needs ``NULLS LAST``."""
    score = Lead.score.desc()
    return (score.nulls_last() if is_postgres(session) else score,)


def _step_number(enrollment: Enrollment) -> int:
    """The step a lead is at: the next one while enrolled, the last one sent when finished."""
    if enrollment.status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
        return enrollment.current_step + 1
    return max(enrollment.current_step, 1)


def _next_due(enrollment: Enrollment) -> datetime | None:
    """When the lead's sequence next does something: a paused one's resume time."""
    if enrollment.status == EnrollmentStatus.PAUSED and enrollment.resume_at is not None:
        return enrollment.resume_at
    return enrollment.next_due_at


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
        "next_due_at": iso(_next_due(enrollment)) if enrollment else None,
        "deal_value": lead.deal_value,
        # what the value is in, when the lead's data says (else the default applies)
        "currency": stated_currency({**(lead.fields or {}), "country": lead.country}),
        "timezone": lead.timezone,
        "updated_at": iso(lead.updated_at),
        # Lead scoring (None: never scored, or scoring is off), and qualification.
        "score": lead.score,
        "scored_at": iso(lead.scored_at),
        "qualification": lead.qualification,
        # The rep who owns the lead (set when a rep accepts it as SQL), or nobody yet.
        "owner": lead.owner,
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
    return lead_record(gather_lead(session, find_lead(session, email)))


@dataclass
class Gathered:
    """Everything recorded about one lead, oldest first."""

    lead: Lead
    enrollments: list[Enrollment]
    current: Enrollment | None
    touches: list[Touch]
    events: list[Event]
    review: list[ReviewItem]
    replies: list[InboundMessage]


def gather_lead(session: Session, lead: Lead) -> Gathered:
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
    return Gathered(lead, enrollments, current, touches, events, review, replies)


def lead_record(gathered: Gathered) -> dict[str, Any]:
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
        # Why the lead has its score: each rule with its points (and age, for engagement).
        "score_detail": lead.score_detail or [],
        "mql_at": iso(lead.mql_at),
        "sql_at": iso(lead.sql_at),
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
                "delivery_unknown": t.status == TouchStatus.UNKNOWN,
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
            if e.kind == EventKind.STAGE_CHANGED
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
