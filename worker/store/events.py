"""The append-only event log: every change to a lead is recorded with time and cause.

Inside ``buffered(session)`` the events recorded are kept, in order, and written by one
statement when the block ends (or at ``flush_buffered``): a batch of inbound messages
writes its few hundred events at once instead of one statement each, and its scoring marks
(``worker.store.marks``) in one more.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from worker.store import marks
from worker.store.models import Event
from worker.vocabulary import EventKind

_INSERT = insert(Event.__table__)  # type: ignore[arg-type]
_BUFFER = "outreach.events.buffer"  # key of ``Session.info``


def record(
    session: Session,
    kind: EventKind,
    *,
    at: datetime,
    lead_id: int | None,
    touch_id: int | None = None,
    sequence: str | None = None,
    step_index: int | None = None,
    cause: str | None = None,
    **detail: Any,
) -> None:
    """Append one event."""
    record_many(
        session,
        [
            {
                "kind": kind,
                "at": at,
                "lead_id": lead_id,
                "touch_id": touch_id,
                "sequence": sequence,
                "step_index": step_index,
                "cause": cause,
                "detail": detail,
            }
        ],
    )


def record_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append many events at once (each row: kind, at, lead_id, ... detail)."""
    if not rows:
        return
    prepared = [
        {
            "kind": row["kind"],
            "at": row["at"],
            "lead_id": row.get("lead_id"),
            "touch_id": row.get("touch_id"),
            "sequence": row.get("sequence"),
            "step_index": row.get("step_index"),
            "cause": row.get("cause"),
            "detail": row.get("detail", {}),
        }
        for row in rows
    ]
    buffer: list[dict[str, Any]] | None = session.info.get(_BUFFER)
    if buffer is not None:
        buffer.extend(prepared)
        return
    session.connection().execute(_INSERT, prepared)


@contextmanager
def buffered(session: Session) -> Iterator[None]:
    """Keep the events recorded in ``session`` during the block and write them, in order,
    when it ends without an error (an error drops them: its transaction rolls back). Code
    that reads events inside the block calls ``flush_buffered`` first."""
    if _BUFFER in session.info:  # already buffering: the outer block writes them
        yield
        return
    session.info[_BUFFER] = []
    try:
        with marks.buffering(session):  # the scoring marks of the events, too
            yield
            flush_buffered(session)
    finally:
        session.info.pop(_BUFFER, None)


def flush_buffered(session: Session) -> None:
    """Write the events buffered so far (nothing when none are, or nothing buffers)."""
    buffer: list[dict[str, Any]] | None = session.info.get(_BUFFER)
    if buffer:
        rows = buffer[:]
        buffer.clear()
        session.connection().execute(_INSERT, rows)
