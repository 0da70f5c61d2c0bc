"""The tick's writes for due email steps: one queued touch per (enrollment, step), set-based.

A batch of due steps becomes one ``INSERT … SELECT`` from a JSON document (see
``worker.leads.bulk_rows``), one ``UPDATE`` of the enrollments and one insert of the
``scheduled`` events. A multi-row ``VALUES`` of thousands of parameters instead costs the
driver more to parse than the database to insert. Touches are unique per (enrollment, step
id). A step whose touch already exists is left as it is, unless that touch was skipped (its
lead was paused, or a sequence change moved it on): then it comes back, at the step's place
in the version now run. A sent, failed or unknown touch never does: when a changed sequence
brings a lead to a step it already got, the step is passed over (``passed``; the enrollment
moves on to the next step at once, with a ``step_passed`` event)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, null, select, update
from sqlalchemy.orm import Session

from worker.leads.bulk_rows import insert_rows, one_of
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Enrollment, Event, Touch
from worker.vocabulary import EventKind, TouchStatus

# Columns of a due step's row (the tick's dict): enrollment, lead, sequence, step, when due,
# mailbox and A/B variant. The rest are the same for every touch of the batch.
ROW_COLUMNS = (
    "enrollment_id",
    "lead_id",
    "sequence",
    "step_index",
    "due_at",
    "mailbox",
    "variant",
    "step_id",
    "version",
)
_RETURNING = ("id", "enrollment_id", "lead_id", "sequence", "step_index")


def create_touches(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    *,
    holder: str | None,
    now: datetime,
    passed: list[Mapping[str, Any]] | None = None,
) -> list[int]:
    """Queue a touch for each due step in ``rows``, clear the enrollments' due time and
    record a ``scheduled`` event per touch; return the new touches' ids in the rows' order.

    Rows whose step the enrollment already got are passed over and added to ``passed``."""
    if not rows:
        return []
    same = {
        "status": TouchStatus.QUEUED,
        "created_at": now,
        "available_at": now,
        "enqueued_at": now,
        "holder": holder,
        "attempts": 0,
        "kind": "email",
    }
    written = insert_rows(
        session,
        Touch.__table__,  # type: ignore[arg-type]
        rows,
        columns=ROW_COLUMNS,
        same=same,
        skip_conflicts_on=("enrollment_id", "step_id"),
        returning=_RETURNING,
    )
    by_enrollment = {row.enrollment_id: row for row in written}
    taken = [row for row in rows if row["enrollment_id"] not in by_enrollment]
    if taken:
        for row in _revive_skipped(session, taken, same):
            by_enrollment[row.enrollment_id] = row
    enrollment_ids = [row["enrollment_id"] for row in rows]
    session.execute(
        update(Enrollment)
        .where(one_of(session, Enrollment.id, enrollment_ids))
        .values(next_due_at=None)
        .execution_options(synchronize_session=False)
    )
    created = [by_enrollment[i] for i in enrollment_ids if i in by_enrollment]
    gone = [row for row in rows if row["enrollment_id"] not in by_enrollment]
    if gone:
        moved_on = _pass_over(session, gone, now)
        if passed is not None:
            passed.extend(moved_on)
    insert_rows(  # the same rows as ``events.record_many`` writes, as one document
        session,
        Event.__table__,  # type: ignore[arg-type]
        [
            {
                "lead_id": row.lead_id,
                "touch_id": row.id,
                "sequence": row.sequence,
                "step_index": row.step_index,
            }
            for row in created
        ],
        columns=("lead_id", "touch_id", "sequence", "step_index"),
        same={"kind": EventKind.SCHEDULED, "at": now, "cause": "due", "detail": {}},
    )
    return [row.id for row in created]


def _revive_skipped(
    session: Session, rows: Sequence[Mapping[str, Any]], same: Mapping[str, Any]
) -> list[Any]:
    """The steps whose touch exists: a skipped one is queued again, any other stays."""
    insert = dialect_insert(session, Touch)
    statement = insert.on_conflict_do_update(
        index_elements=["enrollment_id", "step_id"],
        # No bound parameters in SET/WHERE: SQLAlchemy then sends the rows as one
        # multi-row statement instead of one statement per row.
        set_={
            "status": insert.excluded.status,
            "due_at": insert.excluded.due_at,
            "available_at": insert.excluded.available_at,
            "enqueued_at": insert.excluded.enqueued_at,
            "holder": insert.excluded.holder,
            "variant": insert.excluded.variant,
            "step_index": insert.excluded.step_index,
            "version": insert.excluded.version,
            "kind": literal_column("'email'"),
            "claim_token": null(),
            "claimed_at": null(),
        },
        where=Touch.status == literal_column(f"'{TouchStatus.SKIPPED}'"),
    ).returning(*(getattr(Touch, name) for name in _RETURNING))
    values = [{**{name: row[name] for name in ROW_COLUMNS}, **same} for row in rows]
    return list(session.execute(statement, values))


def _pass_over(
    session: Session, rows: Sequence[Mapping[str, Any]], now: datetime
) -> list[Mapping[str, Any]]:
    """Of ``rows`` whose step already has a touch, those that got it under an earlier
    version of the sequence move on to their next step, due at once; returns them. (A touch
    of the same version that failed or is in doubt keeps its enrollment waiting, as before.)"""
    moved_on: list[Mapping[str, Any]] = []
    for row in rows:
        earlier = session.scalar(
            select(Touch.version).where(
                Touch.enrollment_id == row["enrollment_id"], Touch.step_id == row["step_id"]
            )
        )
        if earlier == row["version"]:
            continue
        moved = session.execute(
            update(Enrollment)
            .where(
                Enrollment.id == row["enrollment_id"],
                Enrollment.current_step == row["step_index"],
            )
            .values(current_step=row["step_index"] + 1, next_due_at=row["due_at"])
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount:  # type: ignore[attr-defined]
            moved_on.append(row)
            events.record(
                session,
                EventKind.STEP_PASSED,
                at=now,
                lead_id=row["lead_id"],
                sequence=row["sequence"],
                step_index=row["step_index"],
                cause="already sent",
                step_id=row["step_id"],
            )
    return moved_on


__all__ = ["create_touches"]
