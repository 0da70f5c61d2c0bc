"""The stage funnel: which leads entered each stage, advanced, were lost, and how long they
stayed; the pipeline value per stage and the forecast of won value, per currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.analytics.records import EventRow, LeadRow
from worker.analytics.stats import median, rate
from worker.leads.locales import DEFAULT_CURRENCY
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, EventKind, Stage

SECONDS_PER_DAY = 86400.0
MILLIONTHS = 1_000_000  # deal values are added as whole millionths


@dataclass(frozen=True)
class Visit:
    """A lead's stay in one stage: entered at ``entered``, left at ``left`` for ``to``."""

    lead_id: int
    stage: str
    entered: datetime
    left: datetime | None = None
    to: str | None = None


def is_advance(previous: str, stage: str) -> bool:
    """Whether ``previous → stage`` moves forward: to a later pipeline stage, or to won."""
    if stage == Stage.WON:
        return previous != Stage.WON
    if previous in PIPELINE_STAGES and stage in PIPELINE_STAGES:
        return PIPELINE_STAGES.index(stage) > PIPELINE_STAGES.index(previous)
    return False


def stage_visits(lead: LeadRow, events: list[EventRow]) -> list[Visit]:
    """The stages ``lead`` went through, oldest first, from its ``stage_changed`` events.

    The first stage is the ``previous`` of the first change (the lead's current stage when it
    never changed), entered when the lead was created (its ``lead_created`` event, else
    ``Lead.created_at``). ``events`` are the lead's own, oldest first.
    """
    changes = [e for e in events if e.kind == EventKind.STAGE_CHANGED]
    created = next((e.at for e in events if e.kind == EventKind.LEAD_CREATED), lead.created_at)
    first = str(changes[0].detail.get("previous") or lead.stage) if changes else lead.stage
    visits: list[Visit] = []
    current = Visit(lead.id, first, created)
    for change in changes:
        stage = str(change.detail.get("stage") or "")
        visits.append(Visit(lead.id, current.stage, current.entered, change.at, stage))
        current = Visit(lead.id, stage, change.at)
    visits.append(current)
    return visits


def all_visits(leads: list[LeadRow], events: list[EventRow]) -> list[Visit]:
    """Every stage visit of every lead."""
    by_lead: dict[int, list[EventRow]] = {}
    for event in events:
        if event.lead_id is not None:
            by_lead.setdefault(event.lead_id, []).append(event)
    return [v for lead in leads for v in stage_visits(lead, by_lead.get(lead.id, []))]


def outcome(visit: Visit) -> str:
    """How a visit ended: ``open`` (not left), ``advanced`` (to a later pipeline stage or
    won), ``lost``, or ``left`` (any other move)."""
    if visit.to is None:
        return "open"
    if is_advance(visit.stage, visit.to):
        return "advanced"
    return "lost" if visit.to == Stage.LOST else "left"


def funnel(visits: list[Visit], since: datetime | None = None) -> list[dict[str, Any]]:
    """One row per pipeline stage over the visits entered at or after ``since``.

    ``entered``: visits into the stage; ``advanced``: of those, left for a later pipeline stage
    or won (a skipped stage is not entered); ``lost``: left for lost; ``conversion``:
    advanced / entered (open visits count as not advanced); ``median_days``: median days from
    entering to leaving over the visits that left (open ones are not counted).
    """
    rows = []
    for stage in PIPELINE_STAGES:
        mine = [v for v in visits if v.stage == stage and (since is None or v.entered >= since)]
        outcomes = [outcome(v) for v in mine]
        durations = [
            (v.left - v.entered).total_seconds() / SECONDS_PER_DAY
            for v in mine
            if v.left is not None
        ]
        rows.append(
            funnel_row(
                stage,
                len(mine),
                outcomes.count("advanced"),
                outcomes.count("lost"),
                median(durations),
            )
        )
    return rows


def funnel_row(
    stage: str, entered: int, advanced: int, lost: int, median_days: float | None
) -> dict[str, Any]:
    """One stage's row of the funnel (see ``funnel``)."""
    return {
        "stage": stage,
        "entered": entered,
        "advanced": advanced,
        "lost": lost,
        "conversion": rate(advanced, entered),
        "median_days": median_days,
    }


def win_probability(funnel_rows: list[dict[str, Any]], stage: str) -> float | None:
    """The chance a lead in ``stage`` is won: the product of the conversion rates of
    ``stage`` and every later pipeline stage (after the last one comes won). None when any of
    those stages has no history."""
    conversions = {row["stage"]: row["conversion"] for row in funnel_rows}
    probability = 1.0
    for later in PIPELINE_STAGES[PIPELINE_STAGES.index(stage) :]:
        conversion = conversions.get(later)
        if conversion is None:
            return None
        probability *= conversion
    return probability


def in_millionths(value: float | None) -> int:
    """A deal value as a whole number of millionths (no value counts 0)."""
    return round((value or 0.0) * MILLIONTHS)


Amounts = dict[str, float]  # per currency code, e.g. {"EUR": 1200.0, "GBP": 80.5}


def pipeline(
    leads: list[LeadRow],
    funnel_rows: list[dict[str, Any]],
    default_currency: str = DEFAULT_CURRENCY,
) -> dict[str, Any]:
    """Deal value per stage and currency now, and the forecast of won value (see
    ``pipeline_table``); a lead's currency is its own, else ``default_currency``.

    Values are added in whole millionths, so the sum is the same in any order (and the same
    as the report counters give): a floating-point sum of values with cents depends on the
    order of the rows.
    """
    counts: dict[str, int] = {}
    millionths: dict[str, dict[str, int]] = {}
    for lead in leads:
        counts[lead.stage] = counts.get(lead.stage, 0) + 1
        value = in_millionths(lead.deal_value)
        if value:
            currency = lead.currency or default_currency
            mine = millionths.setdefault(lead.stage, {})
            mine[currency] = mine.get(currency, 0) + value
    totals = {
        stage: (count, in_units(millionths.get(stage, {})))
        for stage, count in counts.items()
        if stage in PIPELINE_STAGES + FINAL_STAGES
    }
    return pipeline_table(totals, funnel_rows)


def in_units(millionths: Mapping[str, int]) -> Amounts:
    """Sums in millionths per currency as amounts, the currencies in order, zeros left out."""
    return {code: n / MILLIONTHS for code, n in sorted(millionths.items()) if n}


def pipeline_table(
    totals: Mapping[str, tuple[int, Mapping[str, float]]], funnel_rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Deal value per stage and currency now, and the forecast of won value per currency;
    ``totals``: per stage, its number of leads and their total deal value per currency (no
    value counts 0; a stage with no leads is 0). Values in different currencies are never
    added together: every ``value`` and ``forecast_won`` maps a currency code to an amount.

    Method: each open (pipeline) stage's current value times the historical chance a lead in it
    is won, which is the product of the stage-to-stage conversion rates (advanced / entered)
    from that stage through the last pipeline stage (see ``win_probability``). A stage whose
    chance is unknown adds nothing and its forecast is None. ``forecast_won`` is the sum over
    the open stages, per currency of their values. ``currencies``: every currency with a value.
    """
    stages = []
    total: Amounts = {}
    currencies: set[str] = set()
    for stage in PIPELINE_STAGES + FINAL_STAGES:
        count, values = totals.get(stage, (0, {}))
        value = {code: amount for code, amount in sorted(values.items()) if amount}
        currencies.update(value)
        probability = win_probability(funnel_rows, stage) if stage in PIPELINE_STAGES else None
        forecast = (
            {code: amount * probability for code, amount in value.items()}
            if probability is not None
            else None
        )
        if stage in PIPELINE_STAGES:
            for code in value:
                total[code] = total.get(code, 0.0) + (forecast or {}).get(code, 0.0)
        stages.append(
            {
                "stage": stage,
                "leads": count,
                "value": value,
                "win_probability": probability,
                "forecast_won": forecast,
            }
        )
    return {
        "stages": stages,
        "forecast_won": dict(sorted(total.items())),
        "currencies": sorted(currencies),
    }
