"""Reading the rows a report needs; no arithmetic here."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Integer, Select, any_, bindparam, case, select
from sqlalchemy.orm import Session

from worker.analytics.records import NO_DETAIL, EventRow, LeadRow, TouchRow
from worker.leads.locales import stated_currency
from worker.store.dialect import is_postgres
from worker.store.models import Event, Lead, Touch
from worker.vocabulary import EventKind


def among(session: Session, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL one array parameter (``= ANY``), so that thousands of
    ids make one short statement that the driver parses once."""
    if is_postgres(session):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))  # type: ignore[no-any-return]
    return column.in_(list(ids))  # type: ignore[no-any-return]


# A lead as the report reads it: its currency from its ``currency`` field (read in the
# database, not the whole JSON) and its country (``worker.leads.locales.stated_currency``).
_LEAD_COLUMNS = (
    Lead.id,
    Lead.stage,
    Lead.status,
    Lead.deal_value,
    Lead.created_at,
    Lead.fields["currency"].as_string(),
    Lead.country,
)


def lead_row(
    id: int,
    stage: str,
    status: str,
    deal_value: float | None,
    created_at: datetime,
    currency: Any,
    country: str | None,
) -> LeadRow:
    """A ``LeadRow`` from ``_LEAD_COLUMNS``."""
    stated = stated_currency({"currency": currency, "country": country})
    return LeadRow(id, stage, status, deal_value, created_at, stated)


def load_leads(session: Session) -> list[LeadRow]:
    """Every lead, as it is now."""
    return [lead_row(*row) for row in session.execute(select(*_LEAD_COLUMNS))]


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


def _event_rows(kinds: Sequence[str]) -> Select[Any]:
    return select(
        Event.at,
        Event.lead_id,
        Event.touch_id,
        Event.kind,
        Event.sequence,
        Event.step_index,
        Event.cause,
        case((Event.kind == EventKind.STAGE_CHANGED, Event.detail), else_=None),
    ).where(Event.lead_id.is_not(None), Event.kind.in_(kinds))


def load_events(session: Session, kinds: Sequence[str] = REPORT_KINDS) -> list[EventRow]:
    """The events about leads of ``kinds`` (those the report counts), oldest first (the funnel
    needs history before any ``--since`` date to know which stage a lead was in)."""
    query = _event_rows(kinds).order_by(Event.at, Event.id)
    rows = session.connection().execute(query)  # Core rows: no ORM loading per row
    return [
        EventRow(at, lead_id, touch_id, kind, sequence, step, cause, detail or NO_DETAIL)
        for at, lead_id, touch_id, kind, sequence, step, cause, detail in rows
    ]


def events_of_leads(session: Session, lead_ids: Collection[int]) -> dict[int, list[EventRow]]:
    """The report's events of these leads, each lead's oldest first (as ``load_events``)."""
    query = _event_rows(REPORT_KINDS).where(among(session, Event.lead_id, lead_ids))
    rows = session.connection().execute(query.order_by(Event.lead_id, Event.at, Event.id))
    found: dict[int, list[EventRow]] = {}
    for at, lead_id, touch_id, kind, sequence, step, cause, detail in rows.all():
        found.setdefault(lead_id, []).append(
            EventRow(at, lead_id, touch_id, kind, sequence, step, cause, detail or NO_DETAIL)
        )
    return found


def leads_by_id(session: Session, lead_ids: Collection[int]) -> dict[int, LeadRow]:
    """These leads as they are now (ids of leads that are gone are left out)."""
    rows = session.connection().execute(
        select(*_LEAD_COLUMNS).where(among(session, Lead.id, lead_ids))
    )
    return {row[0]: lead_row(*row) for row in rows.all()}


def touches_by_id(session: Session, touch_ids: Collection[int]) -> dict[int, TouchRow]:
    """These touches (their step, mailbox and variant)."""
    found: dict[int, TouchRow] = {}
    ids = sorted(touch_ids)
    for start in range(0, len(ids), 5000):
        rows = session.connection().execute(
            select(
                Touch.id,
                Touch.lead_id,
                Touch.sequence,
                Touch.step_index,
                Touch.mailbox,
                Touch.variant,
            ).where(among(session, Touch.id, ids[start : start + 5000]))
        )
        found.update((row[0], TouchRow(*row)) for row in rows.all())
    return found


def load_touches(session: Session) -> list[TouchRow]:
    """Every touch of the ledger (its step, mailbox and variant)."""
    query = select(
        Touch.id, Touch.lead_id, Touch.sequence, Touch.step_index, Touch.mailbox, Touch.variant
    )
    return [TouchRow(*row) for row in session.execute(query)]


def since_filter(events: list[EventRow], since: datetime | None) -> list[EventRow]:
    """The events at or after ``since`` (all of them when None)."""
    return events if since is None else [e for e in events if e.at >= since]
