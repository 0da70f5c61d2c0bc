"""Read models for the review queue: hot leads first, then the oldest."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, case, func, select
from sqlalchemy.orm import Session, defer

from worker.clock import iso
from worker.errors import NotFoundError
from worker.leads.flags import HOT
from worker.leads.rep_tasks import NEVER, TASK_REASONS, is_task_reason
from worker.queries.board import BOARD_STAGES
from worker.queries.leads import OPEN_FIRST, OTHER_RANK, by_score, reply_row, show_lead
from worker.store.models import Enrollment, InboundMessage, Lead, ReviewItem, Touch

UNASSIGNED = "unassigned"
SCORE = "score"


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
    session: Session,
    filters: QueueFilter | None = None,
    *,
    limit: int | None = None,
    sort: str | None = None,
) -> list[dict[str, Any]]:
    """Open items as the web queue shows them: each row of ``list_open`` with the lead
    (id, company, status, score and why), the mailbox, the touch's state and the reply it is
    about; the first ``limit`` only (paged in the database). ``sort="score"``: the leads with
    the highest score first (never-scored leads and items of no lead last), then queue order.
    """
    found = _open_items(session, filters or QueueFilter(), limit=limit, score_first=sort == SCORE)
    return [_queue_row(item) for item in found]


def queue_item(session: Session, item_id: int) -> dict[str, Any]:
    """One item (open or not) as a queue row, with the lead's record and timeline."""
    found = _load(session, select(ReviewItem).where(ReviewItem.id == item_id), tasks_only=False)
    item = next(found, None)
    if item is None:
        raise NotFoundError(f"No review item {item_id} — see 'outreach review list'.")
    data = _queue_row(item)
    data["lead_record"] = show_lead(session, item.lead.email) if item.lead is not None else None
    return data


# Up to this many open items the filter choices are exactly those of the items; beyond it,
# working out each item's stage and mailbox would cost a lookup per item (about 0.15 s for
# 10,000), so every stage and configured mailbox is offered instead.
EXACT_CHOICES_UP_TO = 2000


def filter_choices(
    session: Session,
    mailboxes: Sequence[str] = (),
    *,
    exact_up_to: int | None = None,
) -> dict[str, list[str]]:
    """The reasons, stages and mailboxes of the open items (for a filter form).

    With more than ``exact_up_to`` (default ``EXACT_CHOICES_UP_TO``) open items, the stages
    are every stage and the mailboxes those configured (``mailboxes``), sorted; the reasons
    are always those of the items.
    """
    reasons = sorted(session.scalars(select(ReviewItem.reason).where(_IS_OPEN).distinct()))
    bound = EXACT_CHOICES_UP_TO if exact_up_to is None else exact_up_to
    open_items = session.scalar(
        select(func.count()).select_from(
            select(ReviewItem.id).where(_IS_OPEN).limit(bound + 1).subquery()
        )
    )
    if (open_items or 0) > bound:
        return {
            "reasons": reasons,
            "stages": sorted(str(stage) for stage in BOARD_STAGES),
            "mailboxes": sorted(mailboxes),
        }
    stages = session.scalars(
        select(Lead.stage)
        .join(ReviewItem, ReviewItem.lead_id == Lead.id)
        .where(_IS_OPEN)
        .distinct()
    )
    found = session.scalars(
        select(_mailbox())
        .select_from(ReviewItem)
        .outerjoin(Touch, Touch.id == ReviewItem.touch_id)
        .where(_IS_OPEN)
        .distinct()
    )
    return {
        "reasons": reasons,
        "stages": sorted(stages),
        "mailboxes": sorted(m for m in found if m),
    }


_IS_OPEN = ReviewItem.resolved_at.is_(None)


def _open_items(
    session: Session,
    filters: QueueFilter,
    *,
    tasks_only: bool = False,
    limit: int | None = None,
    score_first: bool = False,
) -> Iterator[_Open]:
    """The open items matching ``filters``, in queue order (``score_first``: by the lead's
    score, then queue order); the first ``limit`` are picked by the database before anything
    else is joined to them."""
    chosen = select(ReviewItem.id).where(_IS_OPEN)
    if tasks_only:
        chosen = chosen.where(ReviewItem.reason.in_(TASK_REASONS))
    if filters.reason:
        chosen = chosen.where(ReviewItem.reason == filters.reason)
    if filters.stage:
        chosen = chosen.join(Lead, Lead.id == ReviewItem.lead_id).where(Lead.stage == filters.stage)
    elif score_first and limit is not None:
        chosen = chosen.outerjoin(Lead, Lead.id == ReviewItem.lead_id)
    if filters.assignee == UNASSIGNED:
        chosen = chosen.where(ReviewItem.assignee.is_(None))
    elif filters.assignee:
        chosen = chosen.where(ReviewItem.assignee == filters.assignee)
    if filters.mailbox:
        current = _current_mailboxes()
        chosen = (
            chosen.outerjoin(Touch, Touch.id == ReviewItem.touch_id)
            .outerjoin(current, current.c.lead_id == ReviewItem.lead_id)
            .where(
                func.coalesce(func.nullif(Touch.mailbox, ""), current.c.mailbox) == filters.mailbox
            )
        )
    order = by_score(session) if score_first else ()
    if limit is not None:
        chosen = _in_queue_order(chosen.order_by(*order), tasks_only).limit(limit)
    items = select(ReviewItem).where(ReviewItem.id.in_(chosen.scalar_subquery()))
    return _load(session, items, tasks_only=tasks_only, order=order)


def _in_queue_order(query: Select[Any], tasks_only: bool) -> Select[Any]:
    """Tasks by due time; other items hot first (priority), then oldest first (after any
    order ``query`` already has)."""
    if tasks_only:
        return query.order_by(ReviewItem.due_at, ReviewItem.id)
    return query.order_by(ReviewItem.priority.desc(), ReviewItem.created_at, ReviewItem.id)


# An enrollment's place when choosing a lead's current one: open ones first.
_RANK = case(
    *((Enrollment.status == status, rank) for status, rank in OPEN_FIRST.items()),
    else_=OTHER_RANK,
)
_CURRENT_ORDER = (_RANK, Enrollment.enrolled_at.desc(), Enrollment.id)


def _mailbox() -> ColumnElement[str | None]:
    """An item's mailbox: its touch's, else that of its lead's current enrollment (an open
    one, else the most recent; see ``current_enrollments``)."""
    current = (
        select(Enrollment.mailbox)
        .where(Enrollment.lead_id == ReviewItem.lead_id)
        .order_by(*_CURRENT_ORDER)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(func.nullif(Touch.mailbox, ""), current)


def _current_mailboxes() -> Subquery:
    """The mailbox of the current enrollment (as ``_mailbox``) of every lead with an open
    item, as a table (``lead_id``, ``mailbox``): one pass instead of a lookup per item."""
    ranked = (
        select(
            Enrollment.lead_id,
            Enrollment.mailbox,
            func.row_number()
            .over(partition_by=Enrollment.lead_id, order_by=_CURRENT_ORDER)
            .label("place"),
        )
        .where(Enrollment.lead_id.in_(select(ReviewItem.lead_id).where(_IS_OPEN)))
        .subquery()
    )
    return select(ranked.c.lead_id, ranked.c.mailbox).where(ranked.c.place == 1).subquery()


def _load(
    session: Session,
    items: Select[ReviewItem],
    *,
    tasks_only: bool,
    order: tuple[Any, ...] = (),
) -> Iterator[_Open]:
    """The items of ``items`` (a select of ReviewItem) with their lead, touch, reply and
    mailbox, in ``order`` (of the joined lead) and then queue order."""
    query = (
        items.add_columns(Lead, Touch, InboundMessage, _mailbox().label("mailbox"))
        .outerjoin(Lead, Lead.id == ReviewItem.lead_id)
        .outerjoin(Touch, Touch.id == ReviewItem.touch_id)
        .outerjoin(InboundMessage, InboundMessage.id == ReviewItem.inbound_id)
        .options(defer(InboundMessage.raw), defer(Touch.body_text))
        .order_by(*order)
    )
    for item, lead, touch, inbound, mailbox in session.execute(_in_queue_order(query, tasks_only)):
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
        score=lead.score if lead else None,
        score_detail=(lead.score_detail or []) if lead else [],
        qualification=lead.qualification if lead else None,
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
