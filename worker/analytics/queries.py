"""Reading the rows a report needs; no arithmetic here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from worker.analytics.records import NO_DETAIL, EventRow, LeadRow, TouchRow
from worker.store.models import Event, Lead, Touch
from worker.vocabulary import EventKind


def load_leads(session: Session) -> list[LeadRow]:
    """Every lead, as it is now."""
    rows = session.execute(
        select(Lead.id, Lead.stage, Lead.status, Lead.deal_value, Lead.created_at)
    )
    return [LeadRow(*row) for row in rows]


# The kinds of event the report counts; the rest of the log (scheduled, enrolled, paused,
# flagged, …) is not read. Only stage changes need their details (previous and new stage).
REPORT_KINDS = (
    EventKind.LEAD_CREATED,
    EventKind.STAGE_CHANGED,
    EventKind.SENT,
    EventKind.CLASSIFIED,
    EventKind.UNSUBSCRIBED,
    EventKind.SUPPRESSED,
    EventKind.SEQUENCE_COMPLETED,
    EventKind.SEQUENCE_STOPPED,
)


def load_events(session: Session, kinds: Sequence[str] = REPORT_KINDS) -> list[EventRow]:
    """The events about leads of ``kinds`` (those the report counts), oldest first (the funnel
    needs history before any ``--since`` date to know which stage a lead was in)."""
    query = (
        select(
            Event.at,
            Event.lead_id,
            Event.touch_id,
            Event.kind,
            Event.sequence,
            Event.step_index,
            Event.cause,
            case((Event.kind == EventKind.STAGE_CHANGED, Event.detail), else_=None),
        )
        .where(Event.lead_id.is_not(None), Event.kind.in_(kinds))
        .order_by(Event.at, Event.id)
    )
    rows = session.connection().execute(query)  # Core rows: no ORM loading per row
    return [
        EventRow(at, lead_id, touch_id, kind, sequence, step, cause, detail or NO_DETAIL)
        for at, lead_id, touch_id, kind, sequence, step, cause, detail in rows
    ]


def load_touches(session: Session) -> list[TouchRow]:
    """Every touch of the ledger (its step, mailbox and variant)."""
    query = select(
        Touch.id, Touch.lead_id, Touch.sequence, Touch.step_index, Touch.mailbox, Touch.variant
    )
    return [TouchRow(*row) for row in session.execute(query)]


def since_filter(events: list[EventRow], since: datetime | None) -> list[EventRow]:
    """The events at or after ``since`` (all of them when None)."""
    return events if since is None else [e for e in events if e.at >= since]
