"""The ledger of call and LinkedIn tasks (manual steps): open, done, skipped, expired.

A task is a touch with status ``task_open`` and a review item for a rep (reason
``task_call`` / ``task_linkedin``). Opening one from a due step is delivery's job
(``worker.delivery.manual_steps``); closing it — by a rep, by its timeout, or because its
enrollment was paused or stopped — is here, below everything that pauses or stops a lead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from worker.authoring.sequences import Catalog
from worker.runtime import Runtime
from worker.store import events
from worker.store.dialect import is_postgres
from worker.store.models import Enrollment, Lead, ReviewItem, Touch
from worker.timing.windows import due_after
from worker.vocabulary import EnrollmentStatus, EventKind, ReviewAction, ReviewReason, TouchStatus

log = logging.getLogger(__name__)

TASK_KINDS = ("call", "linkedin")
TASK_REASONS: tuple[ReviewReason, ...] = tuple(ReviewReason(f"task_{kind}") for kind in TASK_KINDS)
# The timeout of a task without ``timeout:``: never.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def is_task_reason(reason: str | None) -> bool:
    """True for the review reasons of manual tasks."""
    return reason in TASK_REASONS


def task_reason(kind: str) -> ReviewReason:
    """The review reason of a task of ``kind`` (``call`` → ``task_call``)."""
    return ReviewReason(f"task_{kind}")


def finish_task(
    session: Session,
    touch: Touch,
    status: TouchStatus,
    *,
    at: datetime,
    cause: str,
    resolution: str | None = None,
    note: str | None = None,
    advance_in: Catalog | None = None,
) -> bool:
    """End an open task touch with ``status`` (done, skipped, expired) and close its review
    item. With ``advance_in`` (the catalog) the enrollment moves on to the next step; without,
    it stays at the task's step. False when the task was not open."""
    changed = session.execute(
        update(Touch)
        .where(Touch.id == touch.id, Touch.status == TouchStatus.TASK_OPEN)
        .values(status=status, finished_at=at)
        .execution_options(synchronize_session="fetch")
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False  # done, skipped or expired meanwhile (a rep and the tick at once)
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.touch_id == touch.id, ReviewItem.resolved_at.is_(None))
        .values(resolved_at=at, resolution=resolution or status, note=note)
        .execution_options(synchronize_session="fetch")
    )
    events.record(
        session,
        EventKind(f"task_{status}"),
        at=at,
        lead_id=touch.lead_id,
        touch_id=touch.id,
        sequence=touch.sequence,
        step_index=touch.step_index,
        cause=cause,
        task=touch.kind,
        note=note,
    )
    if advance_in is not None:
        _advance(session, advance_in, touch, at)
    return True


def _advance(session: Session, catalog: Catalog, touch: Touch, at: datetime) -> None:
    """Move the enrollment past the task's step; the next step is due after its wait."""
    enrollment = session.get(Enrollment, touch.enrollment_id)
    if enrollment is None or enrollment.current_step != touch.step_index:
        return
    enrollment.current_step = touch.step_index + 1
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return  # paused: resuming makes the next step due
    loaded = catalog.sequences.get(touch.sequence)
    if loaded is None:
        enrollment.next_due_at = at  # the tick flags the missing sequence
        return
    lead = session.get(Lead, touch.lead_id)
    # As after a sent email (worker.delivery.recording): the wait, then the send window.
    enrollment.next_due_at = due_after(
        catalog.schedules,
        loaded.spec,
        touch.step_index,
        at,
        timezone=lead.timezone if lead else None,
        country=lead.country if lead else None,
        lead_id=touch.lead_id,
    )


def close_open_tasks(
    session: Session, enrollments: Iterable[Enrollment], *, at: datetime, cause: str
) -> int:
    """Close the open tasks of enrollments that were paused or stopped, as ``skipped``.

    The enrollment stays at the task's step, so the task opens again if it resumes.
    """
    ids = [enrollment.id for enrollment in enrollments]
    if not ids:
        return 0
    touches = session.scalars(
        select(Touch).where(Touch.enrollment_id.in_(ids), Touch.status == TouchStatus.TASK_OPEN)
    ).all()
    for touch in touches:
        finish_task(session, touch, TouchStatus.SKIPPED, at=at, cause=cause)
    return len(touches)


def expire_tasks(runtime: Runtime) -> list[int]:
    """Close tasks past their ``timeout`` (``expired``); their sequences move on."""
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        query = (
            select(Touch)
            .where(Touch.status == TouchStatus.TASK_OPEN, Touch.available_at <= now)
            .order_by(Touch.available_at, Touch.id)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        expired = []
        for touch in session.scalars(query).all():
            finish_task(
                session,
                touch,
                TouchStatus.EXPIRED,
                at=now,
                cause="timeout",
                resolution=ReviewAction.TIMEOUT,
                advance_in=runtime.catalog,
            )
            expired.append(touch.id)
    if expired:
        log.info("%d task(s) timed out; their sequences move on", len(expired))
    return expired


def close_stray_tasks(runtime: Runtime) -> list[int]:
    """Open tasks whose enrollment is no longer active at their step (closed as skipped).

    Pausing and stopping close tasks at once; this catches any other way an enrollment left.
    """
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        query = (
            select(Touch, Enrollment.status)
            .join(Enrollment, Enrollment.id == Touch.enrollment_id)
            .where(
                Touch.status == TouchStatus.TASK_OPEN,
                or_(
                    Enrollment.status != EnrollmentStatus.ACTIVE,
                    Enrollment.current_step != Touch.step_index,
                ),
            )
        )
        if is_postgres(session):
            query = query.with_for_update(of=Touch, skip_locked=True)
        closed = []
        for touch, status in session.execute(query).all():
            cause = (
                f"enrollment {status}" if status != EnrollmentStatus.ACTIVE else "step out of date"
            )
            finish_task(session, touch, TouchStatus.SKIPPED, at=now, cause=cause)
            closed.append(touch.id)
    return closed


__all__ = [
    "NEVER",
    "TASK_KINDS",
    "TASK_REASONS",
    "close_open_tasks",
    "close_stray_tasks",
    "expire_tasks",
    "finish_task",
    "is_task_reason",
    "task_reason",
]
