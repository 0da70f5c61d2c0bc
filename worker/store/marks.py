"""Leads whose score must be computed again (``score_marks``), written here, below every
package that records an event that can change a score (leads, inbound, tracking).

A mark is one row per lead with the time it is due: an event marks it due now; the scorer
(``worker.scoring``) removes the marks it computes, and marks a lead whose engagement still
decays due again later. Marking a lead already marked keeps the earlier time, so an event
never waits behind a later decay mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from worker.store.dialect import dialect_insert
from worker.store.models import ScoreMark

_TABLE = ScoreMark.__table__


def mark(session: Session, lead_ids: Iterable[int | None], at: datetime) -> None:
    """Mark these leads (None ignored) for scoring at ``at``, in ``session``'s transaction.

    Written on the session's connection, so it flushes nothing: a batch that keeps its
    changes in the session until the end keeps them there."""
    rows = [{"lead_id": i, "marked_at": at} for i in sorted({i for i in lead_ids if i})]
    if not rows:
        return
    insert = dialect_insert(session, _TABLE)
    statement = insert.on_conflict_do_update(
        index_elements=["lead_id"],
        set_={"marked_at": insert.excluded.marked_at},
        where=insert.excluded.marked_at < _TABLE.c.marked_at,
    )
    session.connection().execute(statement, rows)


__all__ = ["mark"]
