"""Who works on a review item: assigning open items to reps (or back to nobody)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import NotFoundError, OutreachError
from worker.store import events
from worker.store.models import Rep, ReviewItem
from worker.vocabulary import EventKind


@dataclass(frozen=True)
class Assignment:
    """The outcome of assigning one item: who had it before, who has it now (None: nobody)."""

    item_id: int
    previous: str | None
    assignee: str | None


def assign(
    session: Session,
    item_id: int,
    rep: str | None,
    *,
    at: datetime,
    by: str | None = None,
) -> Assignment:
    """Give open item ``item_id`` to ``rep`` (a rep's name; None or empty: to nobody).

    NotFoundError when the item or the rep does not exist; OutreachError when the item is
    resolved already. The change is recorded as an ``assigned`` event on the lead.
    """
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"No review item {item_id} — see 'outreach review list'.")
    if item.resolved_at is not None:
        raise OutreachError(
            f"Review item {item_id} was already resolved ({item.resolution}); "
            "only open items are assigned."
        )
    name = (rep or "").strip().lower() or None
    if name is not None and session.scalar(select(Rep.id).where(Rep.name == name)) is None:
        raise NotFoundError(f"No rep {rep!r} — see 'outreach reps list'.")
    previous = item.assignee
    if previous != name:
        item.assignee = name
        events.record(
            session,
            EventKind.ASSIGNED,
            at=at,
            lead_id=item.lead_id,
            touch_id=item.touch_id,
            cause=f"rep: {by}" if by else "rep",
            item=item.id,
            assignee=name,
            previous=previous,
        )
    return Assignment(item.id, previous, name)
