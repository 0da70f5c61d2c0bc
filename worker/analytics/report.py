"""The whole pipeline report: read the rows once, then compute every section."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from worker.analytics.funnel import all_visits, funnel, pipeline
from worker.analytics.mailboxes import mailbox_rows
from worker.analytics.queries import load_events, load_leads, load_touches, since_filter
from worker.analytics.records import EventRow, LeadRow, TouchRow
from worker.analytics.steps import step_rows
from worker.analytics.variants import variant_rows


def compute_report(
    leads: list[LeadRow],
    events: list[EventRow],
    touches: list[TouchRow],
    since: datetime | None = None,
    sequence_order: Sequence[str] = (),
) -> dict[str, Any]:
    """Every section from plain rows: funnel, steps, variants, pipeline, mailboxes.

    ``since`` limits the funnel to stage visits entered from then on, and sends, replies and
    drop-offs to events from then on; pipeline values are always the current ones.
    ``sequence_order``: how the step rows list sequences (the rest follow by name).
    """
    window = since_filter(events, since)
    funnel_rows = funnel(all_visits(leads, events), since)
    return {
        "since": since.isoformat() if since else None,
        "funnel": funnel_rows,
        "steps": step_rows(events, window, touches, sequence_order),
        "variants": variant_rows(window, touches),
        "pipeline": pipeline(leads, funnel_rows),
        "mailboxes": mailbox_rows(window, touches),
    }


def build_report(
    session: Session, since: datetime | None = None, sequence_order: Sequence[str] = ()
) -> dict[str, Any]:
    """The report for the database ``session`` reads (see ``compute_report``)."""
    return compute_report(
        load_leads(session), load_events(session), load_touches(session), since, sequence_order
    )
