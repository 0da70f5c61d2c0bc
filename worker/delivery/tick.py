"""The tick: find due enrollments, create one touch per (enrollment, step), find work to enqueue.

Finding due work is one indexed range scan on ``enrollments(status, next_due_at)``: its cost
follows the number of due enrollments, not the number of leads. Touches are unique per
(enrollment, step), so overlapping ticks (cron + scheduler, two crons) never create two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from worker.authoring.schema import SequenceSpec
from worker.delivery.due_touches import create_touches
from worker.delivery.manual_steps import open_tasks
from worker.delivery.recovery import recover
from worker.delivery.sequence_changes import apply_changes
from worker.delivery.variants import assign_variants
from worker.errors import OutreachError
from worker.leads.completion import complete_enrollment
from worker.leads.flags import flag
from worker.leads.rep_tasks import close_stray_tasks, expire_tasks
from worker.leads.resuming import resume_due
from worker.mailboxes.pauses import check_mailboxes
from worker.operations.heartbeats import queue_holder
from worker.runtime import Runtime
from worker.scoring.engine import score_marked
from worker.store.dialect import is_postgres
from worker.store.models import Enrollment, Touch
from worker.vocabulary import EnrollmentStatus, ReviewReason, TouchStatus

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    """What one tick did."""

    created: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    completed: int = 0
    resumed: int = 0
    unknown: list[int] = field(default_factory=list)
    recovered_sent: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tasks_opened: list[int] = field(default_factory=list)
    tasks_closed: list[int] = field(default_factory=list)
    # Leads in flight moved by a changed sequence's ``on_change`` (``sequence_changes``).
    changed: int = 0
    # Leads whose score was computed again (an event marked them, or their points decay).
    scored: int = 0

    @property
    def to_enqueue(self) -> list[int]:
        return self.created + self.requeued


def tick(runtime: Runtime, hand_off: Callable[[list[int]], object] | None = None) -> TickResult:
    """One pass: recover touches of stopped senders, create due touches, pick up touches to
    (re)enqueue.

    With ``hand_off``, the touches of each batch go to it as soon as the batch is committed
    (and the requeued ones at the end), so sending starts while later batches are created.
    """
    result = TickResult()
    recovery = recover(runtime)
    result.unknown = recovery.unknown
    result.recovered_sent = recovery.recorded_sent
    result.changed = apply_changes(runtime).total  # before any touch of the new files is made
    result.resumed = resume_due(runtime)
    check_mailboxes(runtime)  # auto-pause mailboxes that fail or bounce too often
    result.tasks_closed = close_stray_tasks(runtime) + expire_tasks(runtime)
    while True:
        created, completed, seen, passed = _tick_batch(
            runtime, result.problems, result.tasks_opened
        )
        result.created.extend(created)
        result.completed += completed
        if hand_off is not None and created:
            hand_off(created)
        if seen < runtime.settings.tick_batch_size and not passed:
            break
    result.scored = score_marked(runtime).scored  # one ``stat`` without scoring.yaml
    result.requeued = requeue_stale(runtime, exclude=set(result.created))
    if hand_off is not None and result.requeued:
        hand_off(result.requeued)
    return result


def _tick_batch(
    runtime: Runtime, problems: list[str], tasks: list[int]
) -> tuple[list[int], int, int, int]:
    """One batch of due enrollments: (touches created, completed, enrollments seen, steps
    passed over because they went out under an earlier version)."""
    now = runtime.clock.now()
    catalog = runtime.catalog
    book = runtime.versions
    with runtime.sessions.begin() as session:
        query = (
            select(
                Enrollment.id,
                Enrollment.lead_id,
                Enrollment.sequence,
                Enrollment.current_step,
                Enrollment.next_due_at,
                Enrollment.mailbox,
                Enrollment.version,
            )
            .where(Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.next_due_at <= now)
            .order_by(Enrollment.next_due_at, Enrollment.id)
            .limit(runtime.settings.tick_batch_size)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        due = session.execute(query).all()
        rows: list[dict[str, object]] = []
        invalid: list[int] = []
        finishing: list[int] = []  # completed sequences and manual steps: rare, done by the ORM
        for enrollment in due:
            if enrollment.sequence not in catalog:
                invalid.append(enrollment.id)
                continue
            try:  # the version it runs: the files', or an old one it finishes
                spec = book.spec(enrollment.sequence, enrollment.version)
                ids = book.ids(enrollment.sequence, enrollment.version)
            except OutreachError:
                invalid.append(enrollment.id)
                continue
            if enrollment.current_step >= len(spec.steps):
                finishing.append(enrollment.id)
                continue
            if not spec.steps[enrollment.current_step].is_email:
                finishing.append(enrollment.id)  # a call / LinkedIn task: never enqueued
                continue
            rows.append(
                {
                    "enrollment_id": enrollment.id,
                    "lead_id": enrollment.lead_id,
                    "sequence": enrollment.sequence,
                    "step_index": enrollment.current_step,
                    "due_at": enrollment.next_due_at,
                    "mailbox": enrollment.mailbox or spec.mailbox,
                    "variant": None,
                    "step_id": ids[enrollment.current_step],
                    "version": enrollment.version,
                }
            )
        completed = _finish_or_open_tasks(session, runtime, finishing, tasks, now)
        _hold_invalid(session, invalid, problems, now)
        assign_variants(session, book, rows)
        passed: list[Mapping[str, object]] = []
        created = create_touches(
            session, rows, holder=queue_holder(runtime.settings), now=now, passed=passed
        )
    return created, completed, len(due), len(passed)


def _finish_or_open_tasks(
    session: Session, runtime: Runtime, ids: list[int], tasks: list[int], now: datetime
) -> int:
    """Complete the enrollments past their last step and open the tasks of manual steps."""
    if not ids:
        return 0
    book = runtime.versions
    manual: list[tuple[Enrollment, SequenceSpec]] = []
    completed = 0
    for enrollment in session.scalars(
        select(Enrollment).where(Enrollment.id.in_(ids)).order_by(Enrollment.id)
    ):
        spec = book.spec(enrollment.sequence, enrollment.version)
        if enrollment.current_step >= len(spec.steps):
            complete_enrollment(session, runtime, enrollment, spec, at=now)
            completed += 1
        else:
            manual.append((enrollment, spec))
    tasks.extend(open_tasks(session, runtime, manual, now))
    return completed


def _hold_invalid(session: Session, ids: list[int], problems: list[str], now: datetime) -> None:
    """Enrollments whose sequence is missing or invalid wait, and their leads are flagged."""
    for enrollment in session.scalars(
        select(Enrollment).where(Enrollment.id.in_(ids)).order_by(Enrollment.id)
    ):
        message = (
            f"sequence {enrollment.sequence!r} is missing or invalid — run "
            "'outreach validate'; the lead waits until it is fixed"
        )
        problems.append(f"enrollment {enrollment.id}: {message}")
        enrollment.next_due_at = None
        flag(
            session,
            enrollment.lead_id,
            ReviewReason.SEQUENCE_INVALID,
            at=now,
            detail=message,
            sequence=enrollment.sequence,
        )


def requeue_stale(runtime: Runtime, exclude: set[int] | None = None) -> list[int]:
    """Queued touches never enqueued, released for retry, or whose message went missing."""
    now = runtime.clock.now()
    stale_before = now - timedelta(seconds=runtime.settings.requeue_after_s)
    with runtime.sessions.begin() as session:
        query = (
            select(Touch.id)
            .where(
                Touch.status == TouchStatus.QUEUED,
                Touch.available_at <= now,
                or_(Touch.enqueued_at.is_(None), Touch.enqueued_at < stale_before),
            )
            .order_by(Touch.available_at, Touch.id)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        ids = [i for i in session.scalars(query) if not exclude or i not in exclude]
        holder = queue_holder(runtime.settings)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            session.execute(
                update(Touch).where(Touch.id.in_(chunk)).values(enqueued_at=now, holder=holder)
            )
    return ids
