"""Resolving review items: what a rep decided, applied to the lead and recorded with a note.

Actions: ``resume`` (back to its sequence), ``stop``, ``lost``, ``won``, ``unsubscribe``
(suppress the address for good), ``advance`` (next stage and its sequence),
``enroll:SEQUENCE``, and for a touch whose delivery is unknown ``sent`` (it went out: go on
with the next step) or ``not-sent`` (send it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import events
from .authoring.sequences import Catalog
from .dialect import dialect_insert
from .enrollment import OPEN_ENROLLMENT_STATUSES, enroll_leads
from .errors import NotFoundError, OutreachError
from .models import Enrollment, Lead, ReviewItem, Suppression, Touch
from .pipeline import change_stage, next_stage
from .scheduling import add_wait, lead_zone

ACTIONS = ("resume", "stop", "lost", "won", "unsubscribe", "advance", "sent", "not-sent")


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one item."""

    item_id: int
    action: str
    lead_email: str | None


def resolve(
    session: Session,
    catalog: Catalog,
    item_id: int,
    action: str,
    *,
    at: datetime,
    note: str | None = None,
) -> Resolution:
    """Apply ``action`` to review item ``item_id`` and close it; OutreachError if it cannot."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"No review item {item_id} — see 'outreach review list'.")
    if item.resolved_at is not None:
        raise OutreachError(f"Review item {item_id} was already resolved ({item.resolution}).")
    if action not in ACTIONS and not action.startswith("enroll:"):
        raise OutreachError(
            f"Unknown action {action!r} — use one of {', '.join(ACTIONS)} or enroll:SEQUENCE."
        )
    lead = session.get(Lead, item.lead_id) if item.lead_id is not None else None
    if lead is None:
        if action != "stop":
            raise OutreachError(
                f"Review item {item_id} belongs to no lead; close it with --action stop."
            )
    else:
        _apply(session, catalog, item, lead, action, at)
    item.resolved_at = at
    item.resolution = action
    item.note = note
    if lead is not None:
        events.record(
            session, "resolved", at=at, lead_id=lead.id, cause=action, item=item_id, note=note
        )
        still_open = session.scalar(
            select(ReviewItem.id).where(
                ReviewItem.lead_id == lead.id,
                ReviewItem.resolved_at.is_(None),
                ReviewItem.id != item.id,
            )
        )
        if lead.status == "needs_review" and still_open is None:
            lead.status = "active" if _has_open_enrollment(session, lead.id) else "completed"
    return Resolution(item_id, action, lead.email if lead is not None else None)


def _apply(
    session: Session, catalog: Catalog, item: ReviewItem, lead: Lead, action: str, at: datetime
) -> None:
    open_enrollments = list(
        session.scalars(
            select(Enrollment).where(
                Enrollment.lead_id == lead.id, Enrollment.status.in_(OPEN_ENROLLMENT_STATUSES)
            )
        )
    )
    if action in ("sent", "not-sent"):
        _settle_unknown_touch(session, catalog, item, lead, action == "sent", at)
    elif action == "resume":
        for enrollment in open_enrollments:
            enrollment.status = "active"
            if enrollment.next_due_at is None and not _touch_outstanding(session, enrollment):
                enrollment.next_due_at = at
        lead.status = "active"
    elif action in ("stop", "lost", "won", "unsubscribe"):
        _stop(open_enrollments, at)
        lead.status = {"unsubscribe": "unsubscribed"}.get(action, "stopped")
        if action in ("lost", "won"):
            change_stage(session, lead, action, at=at, cause="rep")
        if action == "unsubscribe":
            stmt = dialect_insert(session, Suppression).on_conflict_do_nothing(
                index_elements=["value"]
            )
            session.execute(stmt.values(value=lead.email, reason="unsubscribe", created_at=at))
    elif action == "advance" or action.startswith("enroll:"):
        if action == "advance":
            stage = next_stage(lead.stage)
            change_stage(session, lead, stage, at=at, cause="rep")
            target = catalog.for_stage(stage)
        else:
            target = catalog.get(action.split(":", 1)[1])
        _stop(open_enrollments, at)
        lead.status = "active"
        session.flush()
        if target is not None:
            result = enroll_leads(session, [lead], target, at=at, cause="rep")
            if not result.enrolled:
                reasons = ", ".join(result.skipped) or "unknown reason"
                raise OutreachError(f"{lead.email} was not enrolled in {target.name!r}: {reasons}.")


def _stop(enrollments: list[Enrollment], at: datetime) -> None:
    for enrollment in enrollments:
        enrollment.status = "stopped"
        enrollment.next_due_at = None
        enrollment.finished_at = at


def _touch_outstanding(session: Session, enrollment: Enrollment) -> bool:
    return (
        session.scalar(
            select(Touch.id).where(
                Touch.enrollment_id == enrollment.id,
                Touch.step_index == enrollment.current_step,
                Touch.status.in_(("queued", "claimed", "sending")),
            )
        )
        is not None
    )


def _has_open_enrollment(session: Session, lead_id: int) -> bool:
    return (
        session.scalar(
            select(Enrollment.id).where(
                Enrollment.lead_id == lead_id, Enrollment.status.in_(OPEN_ENROLLMENT_STATUSES)
            )
        )
        is not None
    )


def _settle_unknown_touch(
    session: Session, catalog: Catalog, item: ReviewItem, lead: Lead, was_sent: bool, at: datetime
) -> None:
    touch = session.get(Touch, item.touch_id) if item.touch_id is not None else None
    if touch is None or touch.status != "unknown":
        raise OutreachError(
            f"Review item {item.id} is not about a touch whose delivery is unknown; "
            "'sent' and 'not-sent' apply only to those."
        )
    enrollment = session.get(Enrollment, touch.enrollment_id)
    assert enrollment is not None
    lead.status = "active"
    if not was_sent:
        touch.status = "queued"
        touch.available_at = at
        touch.enqueued_at = None
        touch.claim_token = None
        events.record(
            session, "requeued", at=at, lead_id=lead.id, touch_id=touch.id, cause="rep: not sent"
        )
        return
    touch.status = "sent"
    spec = catalog.get(touch.sequence)
    step = touch.step_index + 1
    wait = spec.steps[step].wait if step < len(spec.steps) else spec.on_complete.after
    session.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.current_step == touch.step_index)
        .values(
            current_step=step,
            last_message_id=touch.message_id,
            next_due_at=add_wait(at, wait, lead_zone(lead.timezone)),
        )
    )
    events.record(session, "sent", at=at, lead_id=lead.id, touch_id=touch.id, cause="rep: was sent")
