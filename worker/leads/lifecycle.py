"""Pausing, resuming and stopping a lead's sequences, and suppressing its address.

``pause`` and ``stop`` close the open tasks of each enrollment; given ``tasks`` (the open task
touches of some enrollments, read at once for a batch by ``open_tasks``) they find them there
instead of asking the database per enrollment.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.schedules import Schedules
from worker.authoring.schema import SequenceSpec
from worker.leads.enrollment import BLOCKING_LEAD_STATUSES, OPEN_ENROLLMENT_STATUSES, enroll_leads
from worker.leads.rep_tasks import close_open_tasks, finish_task
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Enrollment, Lead, Suppression, Touch
from worker.vocabulary import EnrollmentStatus, EventKind, LeadStatus, TouchStatus


def open_enrollments(session: Session, lead_id: int) -> list[Enrollment]:
    """The lead's active and paused enrollments."""
    return list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.lead_id == lead_id, Enrollment.status.in_(OPEN_ENROLLMENT_STATUSES))
            .order_by(Enrollment.id)
        )
    )


OpenTasks = Mapping[int, list[Touch]]  # enrollment id -> its open task touches


def open_tasks(session: Session, enrollment_ids: Collection[int]) -> dict[int, list[Touch]]:
    """The open task touches of each enrollment (an empty list for one without), read at once."""
    found: dict[int, list[Touch]] = {enrollment_id: [] for enrollment_id in enrollment_ids}
    ids = sorted(found)
    for start in range(0, len(ids), 500):
        query = (
            select(Touch)
            .where(
                Touch.enrollment_id.in_(ids[start : start + 500]),
                Touch.status == TouchStatus.TASK_OPEN,
            )
            .order_by(Touch.id)
        )
        for touch in session.scalars(query):
            found[touch.enrollment_id].append(touch)
    return found


def _close_tasks(
    session: Session, enrollment: Enrollment, tasks: OpenTasks | None, *, at: datetime, cause: str
) -> None:
    """Close the enrollment's open tasks as ``skipped`` (from ``tasks`` when it knows them)."""
    known = tasks.get(enrollment.id) if tasks is not None else None
    if known is None:
        close_open_tasks(session, [enrollment], at=at, cause=cause)
        return
    for touch in [t for t in known if t.status == TouchStatus.TASK_OPEN]:
        finish_task(session, touch, TouchStatus.SKIPPED, at=at, cause=cause)


def pause(
    session: Session,
    enrollments: list[Enrollment],
    *,
    at: datetime,
    cause: str,
    resume_at: datetime | None = None,
    tasks: OpenTasks | None = None,
) -> None:
    """Pause each enrollment (a touch already queued is skipped at send time)."""
    for enrollment in enrollments:
        if enrollment.status == EnrollmentStatus.PAUSED and enrollment.resume_at == resume_at:
            continue
        enrollment.status = EnrollmentStatus.PAUSED
        enrollment.next_due_at = None
        enrollment.resume_at = resume_at
        _close_tasks(session, enrollment, tasks, at=at, cause=cause)
        _record(
            session,
            enrollment,
            EventKind.PAUSED,
            at=at,
            cause=cause,
            resume_at=resume_at.isoformat() if resume_at else None,
        )


def resume(session: Session, enrollments: list[Enrollment], *, at: datetime, cause: str) -> None:
    """Resume each enrollment at its current step (due now unless its touch is outstanding)."""
    for enrollment in enrollments:
        enrollment.status = EnrollmentStatus.ACTIVE
        enrollment.resume_at = None
        if enrollment.next_due_at is None and not touch_outstanding(session, enrollment):
            enrollment.next_due_at = at
        _record(session, enrollment, EventKind.RESUMED, at=at, cause=cause)


def stop(
    session: Session,
    enrollments: list[Enrollment],
    *,
    at: datetime,
    cause: str,
    tasks: OpenTasks | None = None,
    **detail: Any,
) -> None:
    """Stop each enrollment for good (``detail``, e.g. a rep's reason, goes on its event)."""
    for enrollment in enrollments:
        enrollment.status = EnrollmentStatus.STOPPED
        enrollment.next_due_at = None
        enrollment.resume_at = None
        enrollment.finished_at = at
        _close_tasks(session, enrollment, tasks, at=at, cause=cause)
        _record(session, enrollment, EventKind.SEQUENCE_STOPPED, at=at, cause=cause, **detail)


def _record(
    session: Session,
    enrollment: Enrollment,
    kind: EventKind,
    *,
    at: datetime,
    cause: str,
    **detail: Any,
) -> None:
    """Record an event about the enrollment at its current step."""
    events.record(
        session,
        kind,
        at=at,
        lead_id=enrollment.lead_id,
        sequence=enrollment.sequence,
        step_index=enrollment.current_step,
        cause=cause,
        **detail,
    )


def touch_outstanding(session: Session, enrollment: Enrollment) -> bool:
    """Whether the touch of the enrollment's current step is still waiting to go out (or, for
    a manual step, its task is still open)."""
    return (
        session.scalar(
            select(Touch.id).where(
                Touch.enrollment_id == enrollment.id,
                Touch.step_index == enrollment.current_step,
                Touch.status.in_(
                    (
                        TouchStatus.QUEUED,
                        TouchStatus.CLAIMED,
                        TouchStatus.SENDING,
                        TouchStatus.DELIVERED,
                        TouchStatus.TASK_OPEN,
                    )
                ),
            )
        )
        is not None
    )


def suppress(session: Session, value: str, *, reason: str, at: datetime) -> None:
    """Put an address (or domain) on the global suppression list (idempotent).

    Written at once through the connection: the list is never held in the session, so its
    pending changes need not be flushed first."""
    stmt = dialect_insert(session, Suppression).on_conflict_do_nothing(index_elements=["value"])
    session.connection().execute(stmt.values(value=value.lower(), reason=reason, created_at=at))


def settle_status(
    session: Session, lead: Lead, at: datetime, enrollments: list[Enrollment] | None = None
) -> None:
    """After a change: ``active`` with an open enrollment, else ``completed``.

    ``enrollments``: the lead's open enrollments when the caller knows them (else read)."""
    if enrollments is None:
        enrollments = open_enrollments(session, lead.id)
    lead.status = LeadStatus.ACTIVE if enrollments else LeadStatus.COMPLETED
    lead.updated_at = at


def move_to_sequence(
    session: Session,
    lead: Lead,
    target: SequenceSpec | None,
    *,
    at: datetime,
    cause: str,
    schedules: Schedules | None,
    reactivate: Collection[str],
) -> None:
    """Stop the lead's open sequences and enroll it in ``target`` (None: only stop); nothing
    when it is in ``target`` already. A lead whose status is in ``reactivate`` becomes active
    first; an unsubscribed or bounced lead, or a suppressed address, is never enrolled. A lead
    left with no open sequence is settled (``completed``)."""
    open_now = open_enrollments(session, lead.id)
    if target is not None and any(e.sequence == target.name for e in open_now):
        return
    stop(session, open_now, at=at, cause=cause)
    if lead.status in BLOCKING_LEAD_STATUSES:
        return
    if lead.status in reactivate:
        lead.status = LeadStatus.ACTIVE
    session.flush()
    enrolled = 0
    if target is not None:
        result = enroll_leads(session, [lead], target, at=at, cause=cause, schedules=schedules)
        enrolled = result.enrolled
    if not enrolled and lead.status == LeadStatus.ACTIVE:
        settle_status(session, lead, at)
