"""Apply a changed sequence to the leads in flight, once, at the start of every tick.

For each valid sequence the tick (``apply_changes``):

1. stores the files' version in ``sequence_versions`` the first time it is used;
2. pins every enrollment not pinned yet (new, or from before migration 0011) to that version,
   and gives the touches of one from before 0011 their step ids;
3. applies the sequence's ``on_change`` policy (``delivery.change_policy``) to each open
   enrollment whose ``seen_version`` is not the files' version, in batches, each batch in one
   transaction: its position, its version, its queued touch (moved to the new place of its
   step, or skipped when the lead now lands elsewhere) and a ``sequence_changed`` event that
   names the steps it will now never get. ``seen_version`` is written in the same commit, so
   a crash before it leaves the batch to be applied again by the next tick, and after it
   never applies it twice.

An enrollment whose touch is being sent at that moment (``claimed``, ``sending``,
``delivered``) waits for the next tick; the move to ``sending`` re-checks the enrollment's
version (``delivery.hand_over``), so a touch claimed just before a change never goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, case, cast, literal, or_, select, update
from sqlalchemy.orm import Session

from worker.authoring.versions import SequenceVersion, short
from worker.delivery.change_policy import Move, decide
from worker.errors import NotFoundError
from worker.leads.bulk_rows import one_of
from worker.runtime import Runtime
from worker.store import events
from worker.store.dialect import dialect_insert, is_postgres
from worker.store.models import Enrollment, ReviewItem, Touch
from worker.store.models import SequenceVersion as StoredVersion
from worker.vocabulary import EnrollmentStatus, EventKind, ReviewAction, TouchStatus

log = logging.getLogger(__name__)

BATCH = 500
OPEN = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
# A touch in a worker's hands: its enrollment waits for the next tick.
IN_FLIGHT = (TouchStatus.CLAIMED, TouchStatus.SENDING, TouchStatus.DELIVERED)
# A touch that has not happened yet, and can be moved or skipped by a change.
WAITING = (TouchStatus.QUEUED, TouchStatus.TASK_OPEN)


@dataclass
class ChangeResult:
    """What one pass did, per sequence: leads moved, waiting, and steps they will never get."""

    moved: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.moved.values())


def apply_changes(runtime: Runtime) -> ChangeResult:
    """Store and pin the files' versions, and apply ``on_change`` where they changed."""
    result = ChangeResult()
    book = runtime.versions
    for name in runtime.catalog.names():
        current = book.current(name)
        store_version(runtime, current)
        pin_unpinned(runtime, current)
        after = 0
        while True:
            last = _apply_batch(runtime, current, after, result)
            if last is None:
                break
            after = last
    return result


_STORED: set[tuple[str, str]] = set()  # (database URL, version) this process wrote


def store_version(runtime: Runtime, version: SequenceVersion) -> None:
    """Keep ``version``'s content in ``sequence_versions`` (once; later calls do nothing)."""
    key = (runtime.settings.database_url, version.version)
    if key in _STORED:
        return
    with runtime.sessions.begin() as session:
        statement = dialect_insert(session, StoredVersion).on_conflict_do_nothing(
            index_elements=["version"]
        )
        session.execute(
            statement,
            [
                {
                    "version": version.version,
                    "sequence": version.name,
                    "git_commit": version.git_commit,
                    "first_used_at": runtime.clock.now(),
                    "source": version.source,
                    "templates": version.templates,
                }
            ],
        )
    _STORED.add(key)


def pin_unpinned(runtime: Runtime, version: SequenceVersion) -> int:
    """Pin the sequence's enrollments that run no version yet to ``version``; touches from
    before migration 0011 get the step ids of their places in it. Returns how many."""
    with runtime.sessions.begin() as session:
        ids = list(session.scalars(unpinned_query(version.name)))
        if not ids:
            return 0
        step_ids = runtime.versions.ids(version.name, version.version)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            session.execute(
                update(Enrollment)
                .where(Enrollment.id.in_(chunk), Enrollment.seen_version.is_(None))
                .values(seen_version=version.version, version=version.version)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(Touch)
                .where(one_of(session, Touch.enrollment_id, chunk), Touch.step_id.is_(None))
                .values(
                    step_id=case(
                        {index: literal(sid) for index, sid in enumerate(step_ids)},
                        value=Touch.step_index,
                        else_=literal("#") + cast(Touch.step_index, String),
                    ),
                    version=version.version,
                )
                .execution_options(synchronize_session=False)
            )
    return len(ids)


def unpinned_query(sequence: str) -> Select[int]:
    """The ids of a sequence's enrollments that run no version yet (``ix_enrollments_unpinned``,
    a partial index: an index scan even while the statistics count them from before)."""
    return select(Enrollment.id).where(
        Enrollment.sequence == sequence, Enrollment.seen_version.is_(None)
    )


def unseen_query(current: SequenceVersion, after: int) -> Select[Enrollment]:
    """The next batch of a sequence's enrollments held against another version than
    ``current``, after id ``after``.

    "!= current" is written as two ranges of ``ix_enrollments_sequence_seen`` (a "!=" is no
    index range); PostgreSQL's multi-column statistics on (sequence, seen_version), migration
    0013, keep it from walking the primary key in id order through every enrollment when none
    differ.
    """
    return (
        select(Enrollment)
        .where(
            Enrollment.sequence == current.name,
            or_(
                Enrollment.seen_version < current.version,
                Enrollment.seen_version > current.version,
            ),
            Enrollment.id > after,
        )
        .order_by(Enrollment.id)
        .limit(BATCH)
    )


def _apply_batch(
    runtime: Runtime, current: SequenceVersion, after: int, result: ChangeResult
) -> int | None:
    """Apply the policy to the next batch of enrollments after id ``after``; the last id
    looked at, or None when there were none."""
    now = runtime.clock.now()
    spec = runtime.catalog.get(current.name)
    with runtime.sessions.begin() as session:
        query = unseen_query(current, after)
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        batch = list(session.scalars(query))
        if not batch:
            return None
        open_ids = [e.id for e in batch if e.status in OPEN]
        touches: dict[int, list[Touch]] = {}
        if open_ids:
            for touch in session.scalars(
                select(Touch).where(Touch.enrollment_id.in_(open_ids)).order_by(Touch.id)
            ):
                touches.setdefault(touch.enrollment_id, []).append(touch)
        logged: list[dict[str, Any]] = []
        for enrollment in batch:
            if enrollment.status not in OPEN:
                enrollment.seen_version = current.version  # finished: nothing to move
                continue
            mine = touches.get(enrollment.id, [])
            if any(t.status in IN_FLIGHT for t in mine):
                result.waiting[current.name] = result.waiting.get(current.name, 0) + 1
                continue
            move = _move_for(runtime, enrollment, current, spec.on_change, mine)
            if not _settle_waiting_touch(session, enrollment, move, mine, now):
                result.waiting[current.name] = result.waiting.get(current.name, 0) + 1
                continue
            logged.append(_apply(enrollment, move, current, now))
            result.moved[current.name] = result.moved.get(current.name, 0) + 1
            if move.dropped:
                result.dropped[current.name] = result.dropped.get(current.name, 0) + len(
                    move.dropped
                )
        events.record_many(session, logged)
        return batch[-1].id


def had_steps(touches: Sequence[Touch]) -> set[str]:
    """The step ids an enrollment already got (or tried: anything but skipped or waiting)."""
    return {
        t.step_id
        for t in touches
        if t.step_id is not None and t.status not in (TouchStatus.SKIPPED, *WAITING)
    }


def _move_for(
    runtime: Runtime,
    enrollment: Enrollment,
    current: SequenceVersion,
    policy: str,
    touches: Sequence[Touch],
) -> Move:
    book = runtime.versions
    old = enrollment.version or current.version
    new_ids = book.ids(current.name, current.version)
    try:
        old_ids = book.ids(current.name, old)
    except NotFoundError:  # its version was never stored: all that is known is what it had
        log.warning("enrollment %r: version %s not stored; restarting it", enrollment.id, old)
        old_ids, policy = [], "restart"
    return decide(
        policy,
        old_ids,
        new_ids,
        enrollment.current_step,
        had_steps(touches),
        old_version=old,
        new_version=current.version,
    )


def _settle_waiting_touch(
    session: Session, enrollment: Enrollment, move: Move, touches: Sequence[Touch], now: datetime
) -> bool:
    """Move the enrollment's waiting touch to its step's new place, or skip it when the lead
    lands elsewhere; False when a worker claimed it meanwhile (the enrollment then waits)."""
    waiting = [t for t in touches if t.status in WAITING]
    for touch in waiting:
        keep = not move.finishing and touch.step_id == move.landing
        if move.finishing:
            continue  # finishing its version: the touch stays as it is
        values: dict[str, Any] = (
            {"step_index": move.position, "version": move.version}
            if keep
            else {
                "status": TouchStatus.SKIPPED,
                "finished_at": now,
                "last_error": "the sequence changed: the lead moved to another step",
            }
        )
        changed = session.execute(
            update(Touch)
            .where(Touch.id == touch.id, Touch.status == touch.status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if not keep:
            _close_task_item(session, touch, now)
            if enrollment.status == EnrollmentStatus.ACTIVE:
                enrollment.next_due_at = enrollment.next_due_at or now
    return True


def _close_task_item(session: Session, touch: Touch, now: datetime) -> None:
    """A call/LinkedIn task of a step the lead no longer gets leaves the queue."""
    if touch.status != TouchStatus.TASK_OPEN:
        return
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.touch_id == touch.id, ReviewItem.resolved_at.is_(None))
        .values(
            resolved_at=now,
            resolution=ReviewAction.SKIP,
            note="the sequence changed: this step is no longer the lead's next",
        )
        .execution_options(synchronize_session=False)
    )


def _apply(
    enrollment: Enrollment, move: Move, current: SequenceVersion, now: datetime
) -> dict[str, Any]:
    """Write the move on the enrollment; the ``sequence_changed`` event to record."""
    before = (enrollment.version, enrollment.current_step)
    enrollment.seen_version = current.version
    if not move.finishing:  # its due time stays: the new step takes the old one's turn
        enrollment.version = move.version
        enrollment.current_step = move.position
    return {
        "kind": EventKind.SEQUENCE_CHANGED,
        "at": now,
        "lead_id": enrollment.lead_id,
        "sequence": enrollment.sequence,
        "step_index": move.position,
        "cause": move.policy,
        "detail": {
            "from": before[0],
            "to": current.version,
            "runs": move.version,
            "from_step": before[1] + 1,
            "step": move.position + 1,
            "landing": move.landing,
            "dropped": list(move.dropped),
            "behind": list(move.behind),
            "summary": describe(move, current),
        },
    }


def describe(move: Move, current: SequenceVersion) -> str:
    """One line for the lead's timeline."""
    if move.finishing:
        return (
            f"sequence changed to {current.short}; finishing version {short(move.version)} "
            "(on_change: finish)"
        )
    where = f"step {move.position + 1} ({move.landing})" if move.landing else "past the last step"
    never = f"; will not get: {', '.join(move.dropped)}" if move.dropped else ""
    return f"sequence changed to {current.short} (on_change: {move.policy}): now at {where}{never}"


__all__ = [
    "ChangeResult",
    "apply_changes",
    "describe",
    "had_steps",
    "pin_unpinned",
    "store_version",
    "unpinned_query",
    "unseen_query",
]
