"""Leads whose score must be computed again (``score_marks``), written here, below every
package that records an event that can change a score (leads, inbound, tracking).

A mark is one row per lead with the time it is due: an event marks it due now; the scorer
(``worker.scoring``) removes the marks it computes, and marks a lead whose engagement still
decays due again later. Marking a lead already marked keeps the earlier time, so an event
never waits behind a later decay mark.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session

from worker.store.dialect import dialect_insert
from worker.store.models import ScoreMark

_TABLE = ScoreMark.__table__
_BUFFER = "outreach.marks.buffer"  # key of ``Session.info``


def mark(session: Session, lead_ids: Iterable[int | None], at: datetime) -> None:
    """Mark these leads (None ignored) for scoring at ``at``, in ``session``'s transaction.

    Written on the session's connection, so it flushes nothing: a batch that keeps its
    changes in the session until the end keeps them there."""
    ids = {i for i in lead_ids if i}
    buffer: dict[int, datetime] | None = session.info.get(_BUFFER)
    if buffer is not None:  # inside ``buffering``: one statement for the batch, at its end
        for lead_id in ids:
            buffer[lead_id] = min(at, buffer.get(lead_id, at))
        return
    _write(session, [{"lead_id": i, "marked_at": at} for i in sorted(ids)])


@contextmanager
def buffering(session: Session) -> Iterator[None]:
    """Keep the marks made in ``session`` during the block and write them in one statement
    when it ends without an error (``worker.store.events.buffered`` holds one of these)."""
    if _BUFFER in session.info:
        yield
        return
    buffer: dict[int, datetime] = {}
    session.info[_BUFFER] = buffer
    try:
        yield
        _write(session, [{"lead_id": i, "marked_at": at} for i, at in sorted(buffer.items())])
    finally:
        session.info.pop(_BUFFER, None)


def _write(session: Session, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    insert = dialect_insert(session, _TABLE)
    statement = insert.on_conflict_do_update(
        index_elements=["lead_id"],
        set_={"marked_at": insert.excluded.marked_at},
        where=insert.excluded.marked_at < _TABLE.c.marked_at,
    )
    session.connection().execute(statement, rows)


__all__ = ["buffering", "mark"]
