"""Leads whose score must be computed again: an event that can change it arrived.

Whoever records such an event (a classified reply, a click, an activity, a logged call, a
stage change) marks the lead in the same transaction; the scorer computes marked leads
(``worker.scoring``) and removes their marks. A mark is one row per lead, so marking twice
is marking once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from worker.store.dialect import dialect_insert
from worker.store.models import ScoreMark


def mark(session: Session, lead_ids: Iterable[int | None], at: datetime) -> None:
    """Mark these leads (None ignored) for scoring, in ``session``'s transaction."""
    rows = [{"lead_id": i, "marked_at": at} for i in sorted({i for i in lead_ids if i})]
    if not rows:
        return
    statement = dialect_insert(session, ScoreMark).on_conflict_do_nothing(
        index_elements=["lead_id"]
    )
    session.execute(statement, rows)


__all__ = ["mark"]
