"""The tick: find due enrollments, create one touch per (enrollment, step), find work to enqueue.

Finding due work is one indexed range scan on ``enrollments(status, next_due_at)``: its cost
follows the number of due enrollments, not the number of leads. Touches are unique per
(enrollment, step), so overlapping ticks (cron + scheduler, two crons) never create two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import literal_column, null, or_, select, update

from worker.authoring.schema import SequenceSpec
from worker.delivery.manual_steps import open_tasks
from worker.delivery.recovery import recover
from worker.delivery.variants import assign_variants
from worker.leads.completion import complete_enrollment
from worker.leads.flags import flag
from worker.leads.rep_tasks import close_stray_tasks, expire_tasks
from worker.leads.resuming import resume_due
from worker.mailboxes.pauses import check_mailboxes
from worker.operations.heartbeats import queue_holder
from worker.runtime import Runtime
from worker.store import events
from worker.store.dialect import dialect_insert, is_postgres
from worker.store.models import Enrollment, Touch
from worker.vocabulary import EnrollmentStatus, EventKind, ReviewReason, TouchStatus

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

    @property
    def to_enqueue(self) -> list[int]:
        return self.created + self.requeued


def tick(runtime: Runtime) -> TickResult:
    """One pass: recover touches of stopped senders, create due touches, pick up touches to
    (re)enqueue."""
    result = TickResult()
    recovery = recover(runtime)
    result.unknown = recovery.unknown
    result.recovered_sent = recovery.recorded_sent
    result.resumed = resume_due(runtime)
    check_mailboxes(runtime)  # auto-pause mailboxes that fail or bounce too often
    result.tasks_closed = close_stray_tasks(runtime) + expire_tasks(runtime)
    while True:
        created, completed, seen = _tick_batch(runtime, result.problems, result.tasks_opened)
        result.created.extend(created)
        result.completed += completed
        if seen < runtime.settings.tick_batch_size:
            break
    result.requeued = requeue_stale(runtime, exclude=set(result.created))
    return result


def _tick_batch(
    runtime: Runtime, problems: list[str], tasks: list[int]
) -> tuple[list[int], int, int]:
    now = runtime.clock.now()
    catalog = runtime.catalog
    with runtime.sessions.begin() as session:
        query = (
            select(Enrollment)
            .where(Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.next_due_at <= now)
            .order_by(Enrollment.next_due_at, Enrollment.id)
            .limit(runtime.settings.tick_batch_size)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        due = list(session.scalars(query))
        rows = []
        manual: list[tuple[Enrollment, SequenceSpec]] = []
        completed = 0
        for enrollment in due:
            if enrollment.sequence not in catalog:
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
                continue
            spec = catalog.get(enrollment.sequence)
            if enrollment.current_step >= len(spec.steps):
                complete_enrollment(session, runtime, enrollment, spec, at=now)
                completed += 1
                continue
            if not spec.steps[enrollment.current_step].is_email:
                manual.append((enrollment, spec))  # a call / LinkedIn task: never enqueued
                continue
            rows.append(
                {
                    "enrollment_id": enrollment.id,
                    "lead_id": enrollment.lead_id,
                    "sequence": enrollment.sequence,
                    "step_index": enrollment.current_step,
                    "status": TouchStatus.QUEUED,
                    "due_at": enrollment.next_due_at,
                    "created_at": now,
                    "available_at": now,
                    "enqueued_at": now,
                    "holder": queue_holder(runtime.settings),
                    "mailbox": enrollment.mailbox or spec.mailbox,
                    "attempts": 0,
                    "variant": None,
                }
            )
            enrollment.next_due_at = None
        tasks.extend(open_tasks(session, runtime, manual, now))
        assign_variants(session, catalog, rows)
        created: list[int] = []
        if rows:
            insert = dialect_insert(session, Touch)
            # A touch skipped while its lead was paused comes back when the step is due again;
            # a sent, failed or unknown touch never does.
            stmt = insert.on_conflict_do_update(
                index_elements=["enrollment_id", "step_index"],
                # No bound parameters in SET/WHERE: SQLAlchemy then sends the rows as one
                # multi-row statement instead of one statement per row.
                set_={
                    "status": insert.excluded.status,
                    "due_at": insert.excluded.due_at,
                    "available_at": insert.excluded.available_at,
                    "enqueued_at": insert.excluded.enqueued_at,
                    "holder": insert.excluded.holder,
                    "variant": insert.excluded.variant,
                    "kind": literal_column("'email'"),
                    "claim_token": null(),
                    "claimed_at": null(),
                },
                where=Touch.status == literal_column(f"'{TouchStatus.SKIPPED}'"),
            ).returning(Touch.id, Touch.lead_id, Touch.sequence, Touch.step_index)
            returned = list(session.execute(stmt, rows))
            created = [row.id for row in returned]
            events.record_many(
                session,
                [
                    {
                        "kind": EventKind.SCHEDULED,
                        "at": now,
                        "lead_id": row.lead_id,
                        "touch_id": row.id,
                        "sequence": row.sequence,
                        "step_index": row.step_index,
                        "cause": "due",
                    }
                    for row in returned
                ],
            )
    return created, completed, len(due)


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
