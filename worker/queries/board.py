"""Read model of the pipeline board: per stage the number of leads, their total deal value
and the most valuable leads as cards.

One ``LIMIT``-ed query per stage for its cards (an index on stage and value gives them from
its front), and the counts and sums per stage: one ``GROUP BY stage``, or given by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.store.models import Lead
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, Stage

BOARD_STAGES: tuple[Stage, ...] = PIPELINE_STAGES + FINAL_STAGES
CARDS_PER_STAGE = 12


def stage_totals(session: Session) -> dict[str, tuple[int, float]]:
    """Each stage that has leads: (number of leads, total deal value; no value counts 0)."""
    rows = session.execute(
        select(
            Lead.stage, func.count(Lead.id), func.coalesce(func.sum(Lead.deal_value), 0.0)
        ).group_by(Lead.stage)
    )
    return {stage: (int(count), float(value or 0)) for stage, count, value in rows}


def stage_cards(session: Session, stage: str, limit: int = CARDS_PER_STAGE) -> list[dict[str, Any]]:
    """The ``limit`` most valuable leads of a stage (no value last, then oldest first)."""
    rows = session.execute(
        select(
            Lead.id,
            Lead.email,
            Lead.first_name,
            Lead.last_name,
            Lead.company,
            Lead.deal_value,
            Lead.status,
        )
        .where(Lead.stage == stage)
        .order_by(Lead.deal_value.desc().nulls_last(), Lead.id)
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "email": row.email,
            "name": " ".join(part for part in (row.first_name, row.last_name) if part) or None,
            "company": row.company,
            "deal_value": row.deal_value,
            "status": row.status,
        }
        for row in rows
    ]


def board(
    session: Session,
    cards_per_stage: int = CARDS_PER_STAGE,
    totals: Mapping[str, tuple[int, float]] | None = None,
) -> dict[str, Any]:
    """Every stage of the pipeline (then won and lost) as a column: ``stage``, ``count``,
    ``value``, ``cards`` and ``more`` (leads not shown as cards); plus the totals and the
    largest column value (for the bars). ``totals``: per stage its leads and value, when the
    caller has them (the web app reads them from the report's counters), else counted here."""
    if totals is None:
        totals = stage_totals(session)
    columns: list[dict[str, Any]] = []
    for stage in BOARD_STAGES:
        count, value = totals.get(stage, (0, 0.0))
        cards = stage_cards(session, stage, cards_per_stage) if count else []
        columns.append(
            {
                "stage": stage,
                "count": count,
                "value": value,
                "cards": cards,
                "more": max(0, count - len(cards)),
            }
        )
    return {
        "columns": columns,
        "total_count": sum(c["count"] for c in columns),
        "total_value": sum(c["value"] for c in columns),
        "max_value": max((c["value"] for c in columns), default=0.0),
    }


def format_value(value: float | None) -> str:
    """A deal value for people: thousands separated, cents only when there are any."""
    if value is None:
        return "—"
    if value % 1:
        return f"{value:,.2f}"
    return f"{value:,.0f}"
