"""Flagging a lead for a rep: one open review item per lead and reason, hot ones first.

The queue itself (reading, resolving, assigning) is ``worker.review``; opening an item is
here, below every package that flags a lead (delivery, inbound, mailboxes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.leads.rep_tasks import TASK_REASONS
from worker.store import events
from worker.store.models import Lead, ReviewItem
from worker.vocabulary import EventKind, LeadStatus, ReviewReason

HOT = 10


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
) -> int:
    """Put the lead in the review queue (one open item per lead and reason); return its id.

    ``due_at``: when the rep must have acted (a follow-up day, a legal deadline).
    ``needs_review=False``: the item is work for a rep while the lead keeps its status (a
    paused lead still resumes on its date)."""
    existing = session.scalar(
        select(ReviewItem.id).where(
            ReviewItem.lead_id == lead_id,
            ReviewItem.reason == reason,
            ReviewItem.resolved_at.is_(None),
        )
    )
    if needs_review:
        session.execute(
            update(Lead)
            .where(
                Lead.id == lead_id,
                Lead.status.in_((LeadStatus.ACTIVE, LeadStatus.PAUSED, LeadStatus.COMPLETED)),
            )
            .values(status=LeadStatus.NEEDS_REVIEW, updated_at=at)
        )
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
    if existing is not None:
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
    session.flush()
    return item.id


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


__all__ = ["HOT", "flag", "other_open_items"]
