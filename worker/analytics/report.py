"""The whole pipeline report: from the daily counters (``rollup``), or for a ``since`` that is
not a UTC midnight from every row of the log, read once (``compute_report``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from worker.analytics.funnel import all_visits, funnel, pipeline
from worker.analytics.mailboxes import mailbox_rows
from worker.analytics.qualification import qualification_report
from worker.analytics.queries import load_events, load_leads, load_touches, since_filter
from worker.analytics.records import EventRow, LeadRow, TouchRow
from worker.analytics.rollup import covers, refresh, rollup_report
from worker.analytics.steps import step_rows
from worker.analytics.variants import variant_rows
from worker.leads.locales import DEFAULT_CURRENCY
from worker.vocabulary import PIPELINE_STAGES, Stage

# The stages of the score distribution, in this order.
REPORT_STAGES = [*PIPELINE_STAGES, Stage.WON, Stage.LOST]


def compute_report(
    leads: list[LeadRow],
    events: list[EventRow],
    touches: list[TouchRow],
    since: datetime | None = None,
    sequence_order: Sequence[str] = (),
    default_currency: str = DEFAULT_CURRENCY,
) -> dict[str, Any]:
    """Every section from plain rows: funnel, steps, variants, pipeline, mailboxes.

    ``since`` limits the funnel to stage visits entered from then on, and sends, replies and
    drop-offs to events from then on; pipeline values are always the current ones.
    ``sequence_order``: how the step rows list sequences (the rest follow by name).
    ``default_currency``: the currency of deal values of leads whose ``currency`` field and
    country say none (``OUTREACH_DEFAULT_CURRENCY``); values are grouped per currency.
    """
    window = since_filter(events, since)
    funnel_rows = funnel(all_visits(leads, events), since)
    return {
        "since": since.isoformat() if since else None,
        "funnel": funnel_rows,
        "steps": step_rows(events, window, touches, sequence_order),
        "variants": variant_rows(window, touches),
        "pipeline": pipeline(leads, funnel_rows, default_currency),
        "mailboxes": mailbox_rows(window, touches),
    }


def build_report(
    session: Session,
    since: datetime | None = None,
    sequence_order: Sequence[str] = (),
    default_currency: str = DEFAULT_CURRENCY,
    *,
    qualification: bool = False,
) -> dict[str, Any]:
    """The report for the database ``session`` reads (see ``compute_report``); with
    ``qualification`` also its ``qualification`` section (``qualification_report``: MQLs,
    sales acceptance, scores), aggregated in the database; None while no lead was ever scored.

    From the daily counters when ``since`` is None or a UTC midnight (the command line and the
    web app ask for whole days): first the leads changed since the last refresh are applied
    to the counters, in transactions of their own, when ``session`` has not begun one yet.
    Any other ``since`` reads every row of the log.
    """
    if not covers(since):
        data = compute_report(
            load_leads(session),
            load_events(session),
            load_touches(session),
            since,
            sequence_order,
            default_currency,
        )
    else:
        bind = session.get_bind()
        if isinstance(bind, Engine) and not session.in_transaction():
            refresh(sessionmaker(bind))
        data = rollup_report(session, since, sequence_order, default_currency)
    if qualification:
        data["qualification"] = qualification_report(session, REPORT_STAGES)
    return data
