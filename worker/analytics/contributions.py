"""What one lead adds to the report: counts per key and UTC day, and its finished stage visits.

Every section of the report (``compute_report``) is a sum over leads: a stage visit, a touch
and its replies, a drop-off all belong to one lead. Each count is filed under the day that
decides whether a report ``since`` that day includes it, so the report from any midnight on
is the sum of the days from then on:

- a stage visit under the day it was entered (``funnel``);
- a touch sent under the day of its last ``sent`` event, and a touch "sent and X" (replied,
  positive, hard-bounced, complained) under the earlier of its last ``sent`` and its last X
  event: both happened from a day on exactly when that earlier one did;
- a reply or an unsubscribe-link click under its own day;
- a drop-off (which depends on the first send in the window) as differences: with the sends
  of a lead's sequence on days d1 < … < dm, a report from any day in (d(i-1), di] sees the
  drop-off ci computed from the sends from di on, so day di holds ci - c(i+1) and day dm
  holds cm.

Touches are counted with the lead whose events name them: the engine records a touch's
events under the touch's own lead.

The pipeline section (leads and deal value per stage now) does not depend on a day: it is
filed under ``PIPELINE_DAY``, with the value in whole millionths per currency (the lead's own
``currency`` field, else its country's; ``worker.leads.locales.stated_currency``), so that
adding and taking away shares never drifts the way floating-point sums would, and values in
different currencies are never added together.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from worker.analytics.funnel import in_millionths, outcome, stage_visits
from worker.analytics.records import EventRow, LeadRow, TouchRow
from worker.analytics.steps import exit_reason
from worker.understanding import HUMAN_INTENTS
from worker.vocabulary import PIPELINE_STAGES, EventKind

_MICROSECOND = timedelta(microseconds=1)
PIPELINE_DAY = date(1, 1, 1)  # the day the pipeline counts are filed under


@lru_cache(maxsize=65536)
def key(*parts: str | int | None) -> str:
    """A count's key as stored: the JSON text of its parts, e.g. ``["sent","prospecting",0]``."""
    return json.dumps(parts, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ClosedVisit:
    """A finished stay in a pipeline stage: entered when, and for how long (microseconds)."""

    stage: str
    entered: datetime
    duration_us: int


@dataclass
class LeadParts:
    """One lead's counts by (key, day) and its finished pipeline-stage visits."""

    counts: Counter[tuple[str, date]] = field(default_factory=Counter)
    visits: list[ClosedVisit] = field(default_factory=list)


def lead_parts(
    lead: LeadRow | None, events: Sequence[EventRow], touches: Mapping[int, TouchRow]
) -> LeadParts:
    """The counts ``compute_report`` would add for this lead.

    ``events``: the lead's events of the kinds the report reads, oldest first (by time, then
    id); ``touches``: at least the touches those events name. ``lead`` None (deleted): nothing.
    """
    parts = LeadParts()
    if lead is None:
        return parts
    counts = parts.counts
    counts.update(pipeline_parts(lead))
    for visit in stage_visits(lead, list(events)):
        if visit.stage not in PIPELINE_STAGES:
            continue
        counts[(key("funnel", visit.stage, outcome(visit)), visit.entered.date())] += 1
        if visit.left is not None:
            duration = (visit.left - visit.entered) // _MICROSECOND
            parts.visits.append(ClosedVisit(visit.stage, visit.entered, duration))
    last_sent: dict[int, datetime] = {}
    signals: dict[int, dict[str, datetime]] = {}
    sends: dict[str, list[tuple[datetime, int]]] = {}
    for event in events:
        touch = touches.get(event.touch_id) if event.touch_id is not None else None
        if touch is None:
            continue
        step = (touch.sequence, touch.step_index)
        if event.kind == EventKind.SENT:
            last_sent[touch.id] = max(event.at, last_sent.get(touch.id, event.at))
            sends.setdefault(touch.sequence, []).append((event.at, touch.step_index))
        elif event.kind == EventKind.CLASSIFIED and event.cause:
            counts[(key("reply", *step, event.cause), event.at.date())] += 1
            latest = signals.setdefault(touch.id, {})
            for signal, applies in (
                ("replied", event.cause in HUMAN_INTENTS),
                ("positive", event.cause == "positive"),
                ("hard_bounced", event.cause == "bounce_hard"),
                ("complained", event.cause == "complaint"),
            ):
                if applies:
                    latest[signal] = max(event.at, latest.get(signal, event.at))
        elif event.kind == EventKind.UNSUBSCRIBED:
            counts[(key("unsub", *step), event.at.date())] += 1
    for touch_id, sent_at in last_sent.items():
        touch = touches[touch_id]
        latest = signals.get(touch_id, {})
        mailbox = touch.mailbox or "-"
        counts[(key("sent", touch.sequence, touch.step_index), sent_at.date())] += 1
        counts[(key("mailbox", mailbox, "sent"), sent_at.date())] += 1
        for signal in ("hard_bounced", "complained", "replied"):
            if signal in latest:
                both = min(sent_at, latest[signal]).date()
                counts[(key("mailbox", mailbox, signal), both)] += 1
        if touch.variant is not None:
            where = (touch.sequence, touch.step_index, touch.variant)
            counts[(key("variant", *where, "sent"), sent_at.date())] += 1
            for signal in ("replied", "positive"):
                if signal in latest:
                    both = min(sent_at, latest[signal]).date()
                    counts[(key("variant", *where, signal), both)] += 1
    for sequence, sent in sends.items():
        _drop_offs(counts, events, sequence, sent)
    return parts


def pipeline_parts(lead: LeadRow) -> dict[tuple[str, date], int]:
    """The lead in its stage's count and deal value (millionths; no value counts 0), the value
    under its currency: ``["pipeline","won","value","GBP"]``, or ``null`` for the default
    currency, so that a change of ``OUTREACH_DEFAULT_CURRENCY`` needs no recount."""
    value = in_millionths(lead.deal_value)
    found = {(key("pipeline", lead.stage, "leads"), PIPELINE_DAY): 1}
    if value:
        found[(key("pipeline", lead.stage, "value", lead.currency), PIPELINE_DAY)] = value
    return found


def _drop_offs(
    counts: Counter[tuple[str, date]],
    events: Sequence[EventRow],
    sequence: str,
    sends: list[tuple[datetime, int]],
) -> None:
    """File the lead's drop-off from ``sequence`` as differences per send day (see above)."""
    later: tuple[int, str] | None = None
    lead_events = list(events)
    for day in sorted({at.date() for at, _ in sends}, reverse=True):
        window = [(at, step) for at, step in sends if at.date() >= day]
        step = max(step for _, step in window)
        first = min(at for at, _ in window)
        reason = exit_reason(lead_events, sequence, first)
        now = (step, reason) if reason is not None else None
        if now != later:
            if now is not None:
                counts[(key("drop", sequence, now[0], now[1]), day)] += 1
            if later is not None:
                counts[(key("drop", sequence, later[0], later[1]), day)] -= 1
        later = now


__all__ = [
    "PIPELINE_DAY",
    "ClosedVisit",
    "LeadParts",
    "key",
    "lead_parts",
    "pipeline_parts",
]
