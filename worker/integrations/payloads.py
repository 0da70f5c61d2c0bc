"""From the event log to webhook events: which log entries become which public event, and
the JSON body each delivery carries.

    {"id": "ev_123", "event": "lead.replied", "occurred_at": "2027-01-04T09:00:00Z",
     "data": {"lead": {"id", "email", "first_name", "last_name", "company", "stage",
                       "status", "owner"}, "intent": "positive", ...}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.store.models import Event, Lead, ReviewItem
from worker.vocabulary import EventKind

BOUNCE_INTENTS = ("bounce_hard", "bounce_soft")
# The log entries that can become a public event (the dispatcher reads only these).
SOURCE_KINDS: tuple[str, ...] = (
    EventKind.LEAD_CREATED,
    EventKind.STAGE_CHANGED,
    EventKind.CLASSIFIED,
    EventKind.UNSUBSCRIBED,
    EventKind.SUPPRESSED,
    EventKind.SENT,
    EventKind.FLAGGED,
    EventKind.TASK_OPENED,
    EventKind.RESOLVED,
    EventKind.SCORE_CROSSED,
    EventKind.SQL_ACCEPTED,
    EventKind.SQL_REJECTED,
)


def public_name(event: Event) -> str | None:
    """The webhook event a log entry stands for, or None."""
    kind, cause = event.kind, event.cause
    if kind == EventKind.CLASSIFIED:
        return None if cause in BOUNCE_INTENTS else "lead.replied"
    if kind == EventKind.SUPPRESSED:
        return {"unsubscribe": "lead.unsubscribed", "bounce": "lead.bounced"}.get(cause or "")
    names: dict[str, str] = {
        EventKind.LEAD_CREATED: "lead.created",
        EventKind.STAGE_CHANGED: "lead.stage_changed",
        EventKind.UNSUBSCRIBED: "lead.unsubscribed",
        EventKind.SENT: "touch.sent",
        EventKind.FLAGGED: "review_item.created",
        EventKind.TASK_OPENED: "review_item.created",
        EventKind.RESOLVED: "review_item.resolved",
        EventKind.SCORE_CROSSED: "lead.score_crossed",
        EventKind.SQL_ACCEPTED: "lead.sql_accepted",
        EventKind.SQL_REJECTED: "lead.sql_rejected",
    }
    return names.get(kind)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def lead_data(lead: Lead | None) -> dict[str, Any] | None:
    if lead is None:
        return None
    return {
        "id": lead.id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "stage": lead.stage,
        "status": lead.status,
        "owner": lead.owner,
    }


def event_data(session: Session, event: Event, lead: Lead | None) -> dict[str, Any]:
    """The ``data`` of the webhook event for ``event``."""
    detail = event.detail or {}
    data: dict[str, Any] = {"lead": lead_data(lead)}
    kind = event.kind
    step = event.step_index + 1 if event.step_index is not None else None
    if kind == EventKind.STAGE_CHANGED:
        data.update(previous=detail.get("previous"), stage=detail.get("stage"), cause=event.cause)
    elif kind == EventKind.CLASSIFIED:
        data.update(
            intent=event.cause,
            confidence=detail.get("confidence"),
            sequence=event.sequence,
            step=step,
            return_date=detail.get("return_date"),
        )
    elif kind in (EventKind.UNSUBSCRIBED, EventKind.SUPPRESSED):
        data.update(source=event.cause)
    elif kind == EventKind.SENT:
        data.update(
            touch_id=event.touch_id,
            sequence=event.sequence,
            step=step,
            subject=detail.get("subject"),
            mailbox=detail.get("mailbox"),
            message_id=detail.get("message_id"),
        )
    elif kind in (EventKind.FLAGGED, EventKind.TASK_OPENED):
        reason = event.cause if kind == EventKind.FLAGGED else f"task_{detail.get('task')}"
        data.update(
            item_id=_open_item(session, event.lead_id, reason),
            reason=reason,
            detail=detail.get("detail") or detail.get("text"),
            due_at=detail.get("due_at"),
        )
    elif kind == EventKind.RESOLVED:
        data.update(item_id=detail.get("item"), action=event.cause, note=detail.get("note"))
    elif kind == EventKind.SCORE_CROSSED:
        data.update(threshold=event.cause, score=detail.get("score"))
    elif kind == EventKind.SQL_ACCEPTED:
        data.update(by=detail.get("by"), owner=detail.get("owner"), score=detail.get("score"))
    elif kind == EventKind.SQL_REJECTED:
        data.update(reason=event.cause, by=detail.get("by"), note=detail.get("note"))
    return data


def _open_item(session: Session, lead_id: int | None, reason: str | None) -> int | None:
    if lead_id is None or not reason:
        return None
    return session.scalar(
        select(ReviewItem.id)
        .where(ReviewItem.lead_id == lead_id, ReviewItem.reason == reason)
        .order_by(ReviewItem.id.desc())
        .limit(1)
    )


def body(identifier: str, name: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON text sent (compact, keys in a stable order)."""
    document = {"id": identifier, "event": name, "occurred_at": iso(occurred_at), "data": data}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)


def leads_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Lead]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(wanted)))}


__all__ = ["SOURCE_KINDS", "body", "event_data", "iso", "lead_data", "leads_by_id", "public_name"]
