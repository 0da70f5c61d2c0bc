"""Read model of the pipeline board: per stage the number of leads, their total deal value
per currency and the most valuable leads as cards.

A lead's currency on the board is the report's: its ``currency`` field, else its country's,
else ``OUTREACH_DEFAULT_CURRENCY`` (``worker.leads.locales.report_currency``; no mailbox).

One ``LIMIT``-ed query per stage for its cards (an index on stage and value gives them from
its front), and the counts and sums per stage: one ``GROUP BY stage``, or given by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.authoring.formatting import amounts_text, money_text
from worker.leads.locales import DEFAULT_CURRENCY, report_currency
from worker.store.models import Lead
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, Stage

Amounts = dict[str, float]  # per currency code
BOARD_STAGES: tuple[Stage, ...] = PIPELINE_STAGES + FINAL_STAGES
CARDS_PER_STAGE = 12


def stage_totals(
    session: Session, default_currency: str = DEFAULT_CURRENCY
) -> dict[str, tuple[int, Amounts]]:
    """Each stage that has leads: (number of leads, total deal value per currency; no value
    counts 0). A lead's currency: its ``currency`` field, else its country's, else
    ``default_currency`` (``worker.leads.locales.report_currency``)."""
    given = Lead.fields["currency"].as_string().label("given_currency")
    rows = session.execute(
        select(
            Lead.stage,
            given,
            Lead.country,
            func.count(Lead.id),
            func.coalesce(func.sum(Lead.deal_value), 0.0),
        ).group_by(Lead.stage, given, Lead.country)
    )
    counts: dict[str, int] = {}
    values: dict[str, Amounts] = {}
    for stage, given, country, count, value in rows:
        counts[stage] = counts.get(stage, 0) + int(count)
        if value:
            code = report_currency({"currency": given, "country": country}, default_currency)
            mine = values.setdefault(stage, {})
            mine[code] = mine.get(code, 0.0) + float(value)
    return {stage: (n, dict(sorted(values.get(stage, {}).items()))) for stage, n in counts.items()}


ORDERS = ("value", "score")


def stage_cards(
    session: Session,
    stage: str,
    limit: int = CARDS_PER_STAGE,
    default_currency: str = DEFAULT_CURRENCY,
    order: str = "value",
) -> list[dict[str, Any]]:
    """The ``limit`` most valuable leads of a stage (no value last, then oldest first), each
    with the currency of its value. (Ordered by the number, whatever its currency.)
    ``order="score"``: the highest scores first instead (never scored last)."""
    first = Lead.score if order == "score" else Lead.deal_value
    rows = session.execute(
        select(
            Lead.id,
            Lead.email,
            Lead.first_name,
            Lead.last_name,
            Lead.company,
            Lead.deal_value,
            Lead.status,
            Lead.fields["currency"].as_string().label("currency"),
            Lead.country,
            Lead.score,
        )
        .where(Lead.stage == stage)
        .order_by(first.desc().nulls_last(), Lead.id)
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "email": row.email,
            "name": " ".join(part for part in (row.first_name, row.last_name) if part) or None,
            "company": row.company,
            "deal_value": row.deal_value,
            "currency": report_currency(
                {"currency": row.currency, "country": row.country}, default_currency
            ),
            "status": row.status,
            "score": row.score,
        }
        for row in rows
    ]


def board(
    session: Session,
    cards_per_stage: int = CARDS_PER_STAGE,
    totals: Mapping[str, tuple[int, Mapping[str, float]]] | None = None,
    default_currency: str = DEFAULT_CURRENCY,
    order: str = "value",
) -> dict[str, Any]:
    """Every stage of the pipeline (then won and lost) as a column: ``stage``, ``count``,
    ``value`` (per currency), ``cards`` and ``more`` (leads not shown as cards); plus the
    totals per currency (``total_value``; values in different currencies are never added),
    ``currencies``, and what the bars measure: ``bar`` is ``value`` when the board has one
    currency, else ``leads`` (amounts in different currencies are not comparable), with each
    column's ``bar_value`` and the largest one (``bar_max``). ``totals``: per stage its leads
    and values, when the caller has them (the web app reads them from the report's
    counters), else counted here."""
    if totals is None:
        totals = stage_totals(session, default_currency)
    columns: list[dict[str, Any]] = []
    total_value: dict[str, float] = {}
    for stage in BOARD_STAGES:
        count, values = totals.get(stage, (0, {}))
        value = {code: amount for code, amount in sorted(values.items()) if amount}
        for code, amount in value.items():
            total_value[code] = total_value.get(code, 0.0) + amount
        cards = (
            stage_cards(session, stage, cards_per_stage, default_currency, order) if count else []
        )
        columns.append(
            {
                "stage": stage,
                "count": count,
                "value": value,
                "cards": cards,
                "more": max(0, count - len(cards)),
            }
        )
    currencies = sorted(total_value)
    bar = "value" if len(currencies) <= 1 else "leads"
    for column in columns:
        column["bar_value"] = sum(column["value"].values()) if bar == "value" else column["count"]
    return {
        "columns": columns,
        "total_count": sum(c["count"] for c in columns),
        "total_value": dict(sorted(total_value.items())),
        "currencies": currencies,
        "bar": bar,
        "bar_max": max((c["bar_value"] for c in columns), default=0.0),
        "order": order,
    }


def format_value(value: float | None) -> str:
    """A deal value for people: thousands separated, cents only when there are any."""
    if value is None:
        return "—"
    if value % 1:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def format_money(value: float | None, currency: str, locale: str = "en") -> str:
    """A deal value in its currency for people (``€24,000``, ``£1,234.50``); ``—`` for none."""
    return "—" if value is None else money_text(value, currency, locale)


def format_amounts(
    amounts: Mapping[str, float], currencies: Sequence[str] = (), locale: str = "en"
) -> str:
    """Values per currency for people, never added together (``€3,000 · £500``)."""
    return amounts_text(amounts, currencies, locale)
