"""Read models for the review queue: hot leads first, then the oldest."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, defer

from worker.clock import iso
from worker.errors import NotFoundError
from worker.leads.flags import HOT
from worker.leads.rep_tasks import NEVER, TASK_REASONS, is_task_reason
from worker.queries.leads import current_enrollments, reply_row, show_lead
from worker.store.models import InboundMessage, Lead, ReviewItem, Touch

UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class QueueFilter:
    """What to narrow the open items to; None: any.

    ``assignee`` is a rep's name, or ``UNASSIGNED`` for the items nobody has taken. The
    mailbox of an item is its touch's, else that of the lead's current enrollment.
    """

    reason: str | None = None
    stage: str | None = None
    mailbox: str | None = None
    assignee: str | None = None

    @property
    def active(self) -> bool:
        return any((self.reason, self.stage, self.mailbox, self.assignee))

    @classmethod
    def asked(
        cls, reason: str | None, stage: str | None, mailbox: str | None, assignee: str | None
    ) -> QueueFilter:
        """The filter a form or the command line asked for (an empty value: any)."""
        return cls(reason or None, stage or None, mailbox or None, assignee or None)


@dataclass(frozen=True)
class _Open:
    item: ReviewItem
    lead: Lead | None
    touch: Touch | None
    inbound: InboundMessage | None
    mailbox: str | None


def list_open(
    session: Session, *, tasks_only: bool = False, filters: QueueFilter | None = None
) -> list[dict[str, Any]]:
    """Open review items, hot first (priority), then oldest first.

    ``tasks_only``: the open call and LinkedIn tasks only, the earliest due first.
    ``filters``: only the items matching them.
    """
    return [
        _row(
            found.item,
            found.lead.email if found.lead else None,
            found.lead.stage if found.lead else None,
            found.touch.available_at if found.touch else None,
        )
        for found in _open_items(session, filters or QueueFilter(), tasks_only=tasks_only)
    ]


def queue_rows(
    session: Session, filters: QueueFilter | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Open items as the web queue shows them: each row of ``list_open`` with the lead
    (id, company, status), the mailbox, the touch's state and the reply it is about."""
    rows = []
    for found in _open_items(session, filters or QueueFilter()):
        rows.append(_queue_row(found))
        if limit is not None and len(rows) >= limit:
            break
    return rows


def queue_item(session: Session, item_id: int) -> dict[str, Any]:
    """One item (open or not) as a queue row, with the lead's record and timeline."""
    found = _load(session, select(ReviewItem).where(ReviewItem.id == item_id), tasks_only=False)
    item = next(found, None)
    if item is None:
        raise NotFoundError(f"No review item {item_id} — see 'outreach review list'.")
    data = _queue_row(item)
    data["lead_record"] = show_lead(session, item.lead.email) if item.lead is not None else None
    return data


def filter_choices(session: Session) -> dict[str, list[str]]:
    """The reasons, stages and mailboxes of the open items (for a filter form)."""
    found = list(_open_items(session, QueueFilter()))
    return {
        "reasons": sorted({f.item.reason for f in found}),
        "stages": sorted({f.lead.stage for f in found if f.lead is not None}),
        "mailboxes": sorted({f.mailbox for f in found if f.mailbox}),
    }


def _open_items(
    session: Session, filters: QueueFilter, *, tasks_only: bool = False
) -> Iterator[_Open]:
    query = select(ReviewItem).where(ReviewItem.resolved_at.is_(None))
    if tasks_only:
        query = query.where(ReviewItem.reason.in_(TASK_REASONS))
    if filters.reason:
        query = query.where(ReviewItem.reason == filters.reason)
    if filters.stage:
        query = query.where(Lead.stage == filters.stage)
    if filters.assignee == UNASSIGNED:
        query = query.where(ReviewItem.assignee.is_(None))
    elif filters.assignee:
        query = query.where(ReviewItem.assignee == filters.assignee)
    for found in _load(session, query, tasks_only=tasks_only):
        if filters.mailbox and found.mailbox != filters.mailbox:
            continue
        yield found


def _load(session: Session, items: Select[ReviewItem], *, tasks_only: bool) -> Iterator[_Open]:
    """The items of ``items`` (a select of ReviewItem) with their lead, touch and reply."""
    query = (
        items.add_columns(Lead, Touch, InboundMessage)
        .outerjoin(Lead, Lead.id == ReviewItem.lead_id)
        .outerjoin(Touch, Touch.id == ReviewItem.touch_id)
        .outerjoin(InboundMessage, InboundMessage.id == ReviewItem.inbound_id)
        .options(defer(InboundMessage.raw), defer(Touch.body_text))
    )
    if tasks_only:
        query = query.order_by(ReviewItem.due_at, ReviewItem.id)
    else:
        query = query.order_by(ReviewItem.priority.desc(), ReviewItem.created_at, ReviewItem.id)
    found = [tuple(row) for row in session.execute(query)]
    enrollments = current_enrollments(
        session, sorted({lead.id for _, lead, _, _ in found if lead is not None})
    )
    for item, lead, touch, inbound in found:
        enrollment = enrollments.get(lead.id) if lead is not None else None
        mailbox = (touch.mailbox if touch else None) or (enrollment.mailbox if enrollment else None)
        yield _Open(item, lead, touch, inbound, mailbox)


def _queue_row(found: _Open) -> dict[str, Any]:
    lead, touch, inbound = found.lead, found.touch, found.inbound
    row = _row(
        found.item,
        lead.email if lead else None,
        lead.stage if lead else None,
        touch.available_at if touch else None,
    )
    row.update(
        lead_id=lead.id if lead else None,
        company=lead.company if lead else None,
        lead_status=lead.status if lead else None,
        mailbox=found.mailbox,
        touch_status=touch.status if touch else None,
        message=reply_row(inbound) if inbound is not None else None,
    )
    return row


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
        "assignee": item.assignee,
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
