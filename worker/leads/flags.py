"""Flagging a lead for a rep: one open review item per lead and reason, hot ones first.

The queue itself (reading, resolving, assigning) is ``worker.review``; opening an item is
here, below every package that flags a lead (delivery, inbound, mailboxes).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.leads.ownership import assign_to_owner, owner_of
from worker.leads.rep_tasks import TASK_REASONS
from worker.store import events
from worker.store.models import Lead, ReviewItem
from worker.vocabulary import EventKind, LeadStatus, ReviewAction, ReviewReason

HOT = 10


class OpenItems:
    """The open review items of some leads, by lead and reason, read in one query: flagging
    one of those leads finds its item here (and adds the new one) instead of asking the
    database, and sets the lead's status on the session's own object.

    Holds every open item of ``leads`` as long as items of theirs are opened and closed only
    through ``flag`` with this object (or resolved by ORM updates the session synchronises).
    """

    def __init__(self, session: Session, leads: Collection[int]) -> None:
        self.leads = frozenset(leads)
        self._items: dict[tuple[int, str], ReviewItem] = {}
        if not self.leads:
            return
        ids = sorted(self.leads)
        for start in range(0, len(ids), 500):
            query = (
                select(ReviewItem)
                .where(
                    ReviewItem.lead_id.in_(ids[start : start + 500]),
                    ReviewItem.resolved_at.is_(None),
                )
                .order_by(ReviewItem.id)
            )
            for item in session.scalars(query):
                assert item.lead_id is not None
                self._items.setdefault((item.lead_id, item.reason), item)

    def get(self, lead_id: int, reason: str) -> ReviewItem | None:
        """The lead's open item for ``reason``, if it has one."""
        item = self._items.get((lead_id, reason))
        return item if item is not None and item.resolved_at is None else None

    def add(self, item: ReviewItem) -> None:
        assert item.lead_id is not None
        self._items[(item.lead_id, item.reason)] = item


def flag(
    session: Session,
    lead_id: int,
    reason: ReviewReason,
    *,
    at: datetime,
    detail: str | None = None,
    touch_id: int | None = None,
    priority: int = 0,
    sequence: str | None = None,
    step_index: int | None = None,
    inbound_id: int | None = None,
    suggested_action: str | None = None,
    due_at: datetime | None = None,
    needs_review: bool = True,
    open_items: OpenItems | None = None,
) -> int | None:
    """Put the lead in the review queue (one open item per lead and reason); return its id.

    ``due_at``: when the rep must have acted (a follow-up day, a legal deadline).
    ``needs_review=False``: the item is work for a rep while the lead keeps its status (a
    paused lead still resumes on its date).
    ``open_items``: the open items of a batch's leads; when it holds ``lead_id``, the item is
    found there, the lead's status set on the session's object and a new item added without
    a flush (its id, None until the session flushes, is not returned).
    A new item of a lead with an owner is assigned to the owner (``worker.leads.ownership``).
    """
    batch = open_items is not None and lead_id in open_items.leads
    if batch:
        assert open_items is not None
        found = open_items.get(lead_id, reason)
    else:
        found = None
        existing = session.scalar(
            select(ReviewItem.id).where(
                ReviewItem.lead_id == lead_id,
                ReviewItem.reason == reason,
                ReviewItem.resolved_at.is_(None),
            )
        )
    if needs_review:
        _needs_review(session, lead_id, at, in_memory=batch)
    events.record(
        session,
        EventKind.FLAGGED,
        at=at,
        lead_id=lead_id,
        touch_id=touch_id,
        sequence=sequence,
        step_index=step_index,
        cause=reason,
        detail=detail,
        inbound_id=inbound_id,
    )
    if found is not None:
        found.priority = max(found.priority, priority)
        if due_at is not None:
            found.due_at = due_at
        return found.id
    if not batch and existing is not None:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == existing, ReviewItem.priority < priority)
            .values(priority=priority)
        )
        if due_at is not None:
            session.execute(
                update(ReviewItem).where(ReviewItem.id == existing).values(due_at=due_at)
            )
        return existing
    item = ReviewItem(
        lead_id=lead_id,
        touch_id=touch_id,
        inbound_id=inbound_id,
        reason=reason,
        detail=detail,
        priority=priority,
        suggested_action=suggested_action,
        due_at=due_at,
        created_at=at,
    )
    session.add(item)
    if open_items is not None and batch:
        open_items.add(item)
        assign_to_owner(session, item, owner_of(session, lead_id), at=at)
        return None
    session.flush()
    assign_to_owner(session, item, owner_of(session, lead_id), at=at)
    return item.id


_REVIEWABLE = (LeadStatus.ACTIVE, LeadStatus.PAUSED, LeadStatus.COMPLETED)


def _needs_review(session: Session, lead_id: int, at: datetime, *, in_memory: bool) -> None:
    """An active, paused or completed lead now waits for a rep (``needs_review``)."""
    lead = session.get(Lead, lead_id) if in_memory else None
    if lead is None:
        session.execute(
            update(Lead)
            .where(Lead.id == lead_id, Lead.status.in_(_REVIEWABLE))
            .values(status=LeadStatus.NEEDS_REVIEW, updated_at=at)
        )
    elif lead.status in _REVIEWABLE:
        lead.status = LeadStatus.NEEDS_REVIEW
        lead.updated_at = at


def other_open_items(session: Session, item: ReviewItem) -> bool:
    """Whether the lead has other open problems (open tasks are work, not problems)."""
    return (
        session.scalar(
            select(ReviewItem.id).where(
                ReviewItem.lead_id == item.lead_id,
                ReviewItem.resolved_at.is_(None),
                ReviewItem.id != item.id,
                ReviewItem.reason.not_in(TASK_REASONS),
            )
        )
        is not None
    )


__all__ = ["HOT", "OpenItems", "flag", "other_open_items"]


def close_acceptance(session: Session, lead_id: int, *, at: datetime, why: str) -> list[int]:
    """Close the lead's open "Accept as SQL?" items (resolution ``skip``, ``why`` as the note),
    each with a ``resolved`` event; their ids. An item a rep is resolving right now was
    claimed first (``resolved_at`` set), so it is not among them."""
    closed = list(
        session.scalars(
            update(ReviewItem)
            .where(
                ReviewItem.lead_id == lead_id,
                ReviewItem.reason == ReviewReason.SALES_ACCEPTANCE,
                ReviewItem.resolved_at.is_(None),
            )
            .values(resolved_at=at, resolution=ReviewAction.SKIP, note=why)
            .returning(ReviewItem.id)
            .execution_options(synchronize_session=False)
        )
    )
    for item_id in closed:
        events.record(
            session,
            EventKind.RESOLVED,
            at=at,
            lead_id=lead_id,
            cause=ReviewAction.SKIP,
            item=item_id,
            note=why,
        )
    return closed
