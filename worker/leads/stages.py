"""Stage changes along the pipeline: prospecting → … → delivery (→ won | lost)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from worker.leads.flags import close_acceptance
from worker.store import events
from worker.store.marks import mark
from worker.store.models import Lead
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, EventKind, Stage


def next_stage(stage: str) -> str:
    """The stage after ``stage``; after the last pipeline stage comes ``won``."""
    if stage not in PIPELINE_STAGES:
        return stage
    index = PIPELINE_STAGES.index(stage)
    return PIPELINE_STAGES[index + 1] if index + 1 < len(PIPELINE_STAGES) else Stage.WON


def change_stage(
    session: Session,
    lead: Lead,
    stage: str,
    *,
    at: datetime,
    cause: str,
    reason: str | None = None,
) -> None:
    """Move ``lead`` to ``stage`` and record the change (with a rep's ``reason``, if any)."""
    if lead.stage == stage:
        return
    previous = lead.stage
    lead.stage = stage
    lead.updated_at = at
    said: dict[str, Any] = {"reason": reason} if reason else {}
    events.record(
        session,
        EventKind.STAGE_CHANGED,
        at=at,
        lead_id=lead.id,
        cause=cause,
        previous=previous,
        stage=stage,
        **said,
    )
    mark(session, [lead.id], at)  # a fit rule may read the stage
    if stage in FINAL_STAGES:  # a decided lead is no longer a question for sales
        close_acceptance(session, lead.id, at=at, why=f"the lead was marked {stage}")
