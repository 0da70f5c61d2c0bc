"""The tick's writes for due email steps: one queued touch per (enrollment, step), set-based.

A batch of due steps becomes one ``INSERT … SELECT`` from a JSON document (see
``worker.leads.bulk_rows``), one ``UPDATE`` of the enrollments and one insert of the
``scheduled`` events. A multi-row ``VALUES`` of thousands of parameters instead costs the
driver more to parse than the database to insert. A step whose touch already exists is left
as it is, unless that touch was skipped while its lead was paused: then it comes back (a
sent, failed or unknown touch never does)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, null, update
from sqlalchemy.orm import Session

from worker.leads.bulk_rows import insert_rows, one_of
from worker.store.dialect import dialect_insert
from worker.store.models import Enrollment, Event, Touch
from worker.vocabulary import EventKind, TouchStatus

# Columns of a due step's row (the tick's dict): enrollment, lead, sequence, step, when due,
# mailbox and A/B variant. The rest are the same for every touch of the batch.
ROW_COLUMNS = ("enrollment_id", "lead_id", "sequence", "step_index", "due_at", "mailbox", "variant")
_RETURNING = ("id", "enrollment_id", "lead_id", "sequence", "step_index")


def create_touches(
    session: Session, rows: Sequence[Mapping[str, Any]], *, holder: str | None, now: datetime
) -> list[int]:
    """Queue a touch for each due step in ``rows``, clear the enrollments' due time and
    record a ``scheduled`` event per touch; return the new touches' ids in the rows' order."""
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
        skip_conflicts_on=("enrollment_id", "step_index"),
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
    ).returning(*(getattr(Touch, name) for name in _RETURNING))
    values = [{**{name: row[name] for name in ROW_COLUMNS}, **same} for row in rows]
    return list(session.execute(statement, values))


__all__ = ["create_touches"]
