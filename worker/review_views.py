"""Read models for the review queue: hot leads first, then the oldest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import iso
from .errors import NotFoundError
from .lead_views import reply_row, show_lead
from .models import InboundMessage, Lead, ReviewItem, Touch
from .review import HOT
from .tasks import NEVER, TASK_REASONS, is_task_reason


def list_open(session: Session, *, tasks_only: bool = False) -> list[dict[str, Any]]:
    """Open review items, hot first (priority), then oldest first.

    ``tasks_only``: the open call and LinkedIn tasks only, the earliest due first.
    """
    query = (
        select(ReviewItem, Lead.email, Lead.stage, Touch.available_at)
        .outerjoin(Lead, Lead.id == ReviewItem.lead_id)
        .outerjoin(Touch, Touch.id == ReviewItem.touch_id)
        .where(ReviewItem.resolved_at.is_(None))
    )
    if tasks_only:
        query = query.where(ReviewItem.reason.in_(TASK_REASONS)).order_by(
            ReviewItem.due_at, ReviewItem.id
        )
    else:
        query = query.order_by(ReviewItem.priority.desc(), ReviewItem.created_at, ReviewItem.id)
    return [
        _row(item, email, stage, expires) for item, email, stage, expires in session.execute(query)
    ]


def _row(
    item: ReviewItem, email: str | None, stage: str | None, expires: datetime | None = None
) -> dict[str, Any]:
    task = is_task_reason(item.reason)
    return {
        "id": item.id,
        "lead": email,
        "stage": stage,
        "reason": item.reason,
        "detail": item.detail,
        "priority": item.priority,
        "hot": item.priority >= HOT,
        "suggested_action": item.suggested_action,
        "touch_id": item.touch_id,
        "inbound_id": item.inbound_id,
        "task": item.reason.removeprefix("task_") if task else None,
        "due_at": iso(item.due_at),
        "expires_at": iso(expires) if task and expires is not None and expires < NEVER else None,
        "created_at": iso(item.created_at),
        "resolved_at": iso(item.resolved_at),
        "resolution": item.resolution,
        "note": item.note,
    }


def show_item(session: Session, item_id: int) -> dict[str, Any]:
    """One item with its lead (fields, stage history, timeline) and the message it is about."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"No review item {item_id} — see 'outreach review list'.")
    lead = session.get(Lead, item.lead_id) if item.lead_id is not None else None
    touch = session.get(Touch, item.touch_id) if item.touch_id is not None else None
    data = _row(
        item,
        lead.email if lead else None,
        lead.stage if lead else None,
        touch.available_at if touch is not None else None,
    )
    data["lead_record"] = show_lead(session, lead.email) if lead is not None else None
    if item.inbound_id is not None:
        inbound = session.get(InboundMessage, item.inbound_id)
        if inbound is not None:
            data["message"] = reply_row(inbound)
    return data
