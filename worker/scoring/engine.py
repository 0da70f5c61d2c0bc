"""Scores kept in the database: computed for marked leads, stored with why, and a threshold
crossed once and only once per lead, whoever computes it.

``rescore`` stores ``Lead.score``/``scored_at``/``score_detail``. A crossing is an insert into
``score_crossings`` (unique per lead and threshold) that does nothing on conflict: only the
scorer whose insert went in records ``score_crossed`` and runs the ``on_cross`` actions, so
two ticks, or a tick and ``outreach scoring rescore``, never cross a lead twice.

``score_marked`` is the tick's part: the marked leads due now, a batch at a time, their
marks removed in the same transaction. A score whose engagement still decays is marked due
again ``decay_every_hours`` later, so only leads with decaying points are ever re-decayed;
with no ``scoring.yaml`` it costs one ``stat``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from worker.leads import lifecycle
from worker.leads.flags import HOT, flag
from worker.leads.stages import change_stage, next_stage
from worker.qualification.acceptance import open_acceptance
from worker.runtime import Runtime
from worker.scoring.config import ENROLL_PREFIX, ScoringConfig, scoring_config
from worker.scoring.features import open_cutoffs, read_features
from worker.scoring.learned import LearnedModel, load_model
from worker.scoring.rules import Score, kinds_needed, score_lead
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.marks import mark
from worker.store.models import Event, Lead, ReviewItem, ScoreCrossing, ScoreMark
from worker.vocabulary import (
    FINAL_STAGES,
    PIPELINE_STAGES,
    EventKind,
    LeadStatus,
    Qualification,
    ReviewReason,
)

log = logging.getLogger(__name__)
BATCH = 500
TOP_RULES = 5  # the rules a crossing's event and review item name
TICK_BATCHES = 20  # a tick scores at most 10,000 marked leads; the rest wait for the next


@dataclass
class RescoreResult:
    """What a rescore did: leads scored, and the thresholds crossed (lead id, threshold)."""

    scored: int = 0
    crossed: list[tuple[int, str]] = field(default_factory=list)

    def add(self, other: RescoreResult) -> None:
        self.scored += other.scored
        self.crossed.extend(other.crossed)


def rescore(
    session: Session,
    runtime: Runtime,
    lead_ids: Iterable[int],
    at: datetime,
    *,
    config: ScoringConfig | None = None,
) -> RescoreResult:
    """Compute and store the scores of ``lead_ids`` at ``at``, crossing thresholds (in
    ``session``'s transaction). Nothing happens without a valid ``scoring.yaml``."""
    if config is None:
        config, _ = scoring_config(runtime.settings.home)
    result = RescoreResult()
    if config is None:
        return result
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), BATCH):
        _rescore_batch(session, runtime, config, ids[start : start + BATCH], at, result)
    return result


def _rescore_batch(
    session: Session,
    runtime: Runtime,
    config: ScoringConfig,
    ids: Sequence[int],
    at: datetime,
    result: RescoreResult,
) -> None:
    leads = list(session.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id)))
    by_lead = _events_of(session, config, ids, at)
    crossed = _crossed_already(session, ids) if config.threshold_items() else set()
    model = _learned_model(runtime, config)
    learned = _learned_scores(session, model, ids, at) if model is not None else {}
    decaying: list[int] = []
    for lead in leads:
        score = learned.get(lead.id) or score_lead(config, lead, by_lead.get(lead.id, []), at)
        lead.score = score.value
        lead.scored_at = at
        lead.score_detail = list(score.contributions)
        result.scored += 1
        if score.decaying:
            decaying.append(lead.id)
        if not can_qualify(lead):
            continue  # scored (the report and the model read it), never qualified
        for name, threshold in config.threshold_items():
            reached = score.value >= threshold and (lead.id, name) not in crossed
            if reached and _cross(session, lead, name, threshold, score, at):
                result.crossed.append((lead.id, name))
                _on_cross(session, runtime, config, lead, name, threshold, score, at)
    session.flush()
    if decaying:
        mark(session, decaying, at + timedelta(hours=config.decay_every_hours))


def can_qualify(lead: Lead) -> bool:
    """Whether crossing a threshold may make the lead an MQL or ask sales about it: not a
    decided (won, lost) lead, nor one that unsubscribed or bounced."""
    if lead.stage in FINAL_STAGES:
        return False
    return lead.status not in (LeadStatus.UNSUBSCRIBED, LeadStatus.BOUNCED)


def _events_of(
    session: Session, config: ScoringConfig, ids: Sequence[int], at: datetime
) -> dict[int, list[Any]]:
    """The events of ``ids`` up to ``at`` of the kinds the engagement rules count, by lead
    (one query along ``ix_events_lead_at``; none without engagement rules)."""
    by_lead: dict[int, list[Any]] = defaultdict(list)
    kinds = kinds_needed(config)
    if kinds:
        query = select(Event.id, Event.lead_id, Event.kind, Event.at, Event.cause, Event.detail)
        query = query.where(Event.lead_id.in_(ids), Event.kind.in_(kinds), Event.at <= at)
        for row in session.execute(query):
            by_lead[row.lead_id].append(row)
    return by_lead


def explain_lead(
    session: Session, runtime: Runtime, config: ScoringConfig, lead: Lead, at: datetime
) -> Score:
    """The lead's score at ``at`` with why, computed and not stored (nothing crosses)."""
    model = _learned_model(runtime, config)
    if model is not None:
        return _learned_scores(session, model, [lead.id], at)[lead.id]
    return score_lead(config, lead, _events_of(session, config, [lead.id], at)[lead.id], at)


def _crossed_already(session: Session, ids: Sequence[int]) -> set[tuple[int, str]]:
    rows = session.execute(
        select(ScoreCrossing.lead_id, ScoreCrossing.threshold).where(ScoreCrossing.lead_id.in_(ids))
    )
    return {(row.lead_id, row.threshold) for row in rows}


def _cross(
    session: Session, lead: Lead, name: str, threshold: float, score: Score, at: datetime
) -> bool:
    """Insert the crossing; True only for the scorer whose row went in."""
    statement = (
        dialect_insert(session, ScoreCrossing.__table__)
        .values(lead_id=lead.id, threshold=name, score=score.value, at=at)
        .on_conflict_do_nothing(index_elements=["lead_id", "threshold"])
        .returning(ScoreCrossing.__table__.c.id)
    )
    inserted = session.connection().execute(statement).scalar() is not None
    if inserted:
        events.record(
            session,
            EventKind.SCORE_CROSSED,
            at=at,
            lead_id=lead.id,
            cause=name,
            score=score.value,
            threshold=threshold,
            rules=top_rules(score),
        )
    return inserted


def top_rules(score: Score, limit: int = TOP_RULES) -> list[dict[str, Any]]:
    """The contributions that weigh most, biggest first."""
    ranked = sorted(score.contributions, key=lambda c: -abs(float(c["points"])))
    return [
        {key: c[key] for key in ("rule", "points", "age_days") if key in c} for c in ranked[:limit]
    ]


def why(score: Score) -> str:
    """``title contains Head (+20), reply positive (+28.3, 2.0 d)`` for a review item."""
    parts = []
    for c in top_rules(score):
        age = f", {c['age_days']:g} d" if "age_days" in c else ""
        parts.append(f"{c['rule']} ({float(c['points']):+g}{age})")
    return ", ".join(parts)


def _on_cross(
    session: Session,
    runtime: Runtime,
    config: ScoringConfig,
    lead: Lead,
    name: str,
    threshold: float,
    score: Score,
    at: datetime,
) -> None:
    """What crossing ``name`` does: qualification, sales acceptance, the ``on_cross`` actions."""
    cause = f"score {name}"
    if name == "mql" and lead.qualification is None:
        lead.qualification = Qualification.MQL
        lead.mql_at = at
    if name == "sql_candidate":
        # "Accept as SQL?" for a rep; the lead's sequence goes on while they decide.
        open_acceptance(session, lead, at, cause=f"score: {name}", detail=why(score))
    summary = f"score {score.value:g} crossed {name} ({threshold:g}): {why(score)}"
    for action in config.on_cross.get(name, ()):
        if action in ("flag", "notify"):
            _flag(session, lead, name, summary, notify=action == "notify", at=at)
        elif action == "advance":
            _advance(session, lead, at, cause)
        elif action.startswith(ENROLL_PREFIX):
            _enroll(session, runtime, lead, action[len(ENROLL_PREFIX) :], at, cause)


def _flag(
    session: Session, lead: Lead, name: str, summary: str, *, notify: bool, at: datetime
) -> None:
    """A review item for a rep; the lead's sequence goes on. ``notify``: no notification
    channel exists yet, so it is this item (the timeline's ``flagged`` entry, cause
    ``score_crossed``), hot, and assigned to the lead's owner when it has one."""
    item_id = flag(
        session,
        lead.id,
        ReviewReason.SCORE_CROSSED,
        at=at,
        detail=f"notify: {summary}" if notify else summary,
        priority=HOT if name == "sql_candidate" or notify else 0,
        suggested_action="contact the lead" if notify else "review the lead",
        needs_review=False,
    )
    if notify and lead.owner and item_id is not None:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == item_id, ReviewItem.assignee.is_(None))
            .values(assignee=lead.owner)
        )


def _advance(session: Session, lead: Lead, at: datetime, cause: str) -> None:
    if lead.stage not in PIPELINE_STAGES:
        return
    lifecycle.stop(session, lifecycle.open_enrollments(session, lead.id), at=at, cause=cause)
    change_stage(session, lead, next_stage(lead.stage), at=at, cause=cause)
    if lead.status in (LeadStatus.ACTIVE, LeadStatus.PAUSED):
        lifecycle.settle_status(session, lead, at, [])


def _enroll(
    session: Session, runtime: Runtime, lead: Lead, name: str, at: datetime, cause: str
) -> None:
    loaded = runtime.catalog.sequences.get(name)
    if loaded is None:
        flag(
            session,
            lead.id,
            ReviewReason.CONFIG_ERROR,
            at=at,
            detail=f"scoring.yaml: on_cross enrolls in {name!r}, which is not a valid sequence "
            "— run 'outreach validate'",
            needs_review=False,
        )
        return
    lifecycle.move_to_sequence(
        session,
        lead,
        loaded.spec,
        at=at,
        cause=cause,
        schedules=runtime.catalog.schedules,
        reactivate=(LeadStatus.PAUSED, LeadStatus.COMPLETED, LeadStatus.STOPPED),
    )


def _learned_model(runtime: Runtime, config: ScoringConfig) -> LearnedModel | None:
    """With ``model: learned``, the model ``outreach scoring train`` wrote, else None (the
    rules score, and a warning says why, when none was trained yet)."""
    if config.model != "learned":
        return None
    model = load_model(runtime.settings.home)
    if model is None:
        log.warning("scoring.yaml says 'model: learned' but no model is trained; using rules")
    return model


def _learned_scores(
    session: Session, model: LearnedModel, ids: Sequence[int], at: datetime
) -> dict[int, Score]:
    """The learned model's scores (win probability x 100) of a batch, with the features that
    moved each most as its contributions."""
    found = read_features(session, open_cutoffs(at, ids))
    scores = {}
    for lead_id in ids:
        features = found.get(lead_id, {})
        contributions = tuple(
            {
                "rule": moved["feature"],
                "section": "learned",
                "points": moved["points"],
                "value": moved["value"],
            }
            for moved in model.explain(features)
        )
        scores[lead_id] = Score(value=model.score(features), contributions=contributions)
    return scores


def score_marked(
    runtime: Runtime, *, batch_size: int = BATCH, max_batches: int | None = TICK_BATCHES
) -> RescoreResult:
    """Score the leads marked due by now, a batch per transaction, removing their marks in
    it; at most ``max_batches`` batches (None: until none is due), so that a flood of marks
    (a big import of events) is spread over ticks instead of holding one up. One ``stat``
    when there is no ``scoring.yaml`` (the marks wait for one)."""
    result = RescoreResult()
    config, _ = scoring_config(runtime.settings.home)
    if config is None:
        return result
    now = runtime.clock.now()
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        with runtime.sessions.begin() as session:
            due = select(ScoreMark.lead_id).where(ScoreMark.marked_at <= now)
            ids = list(session.scalars(due.order_by(ScoreMark.marked_at).limit(batch_size)))
            if not ids:
                break
            # Only the marks this transaction removed are its to score: a concurrent scorer
            # that removed them first scores them.
            taken = session.scalars(
                delete(ScoreMark)
                .where(ScoreMark.lead_id.in_(ids), ScoreMark.marked_at <= now)
                .returning(ScoreMark.lead_id)
            ).all()
            result.add(rescore(session, runtime, taken, now, config=config))
        if len(ids) < batch_size:
            break
    return result


def rescore_all(runtime: Runtime, *, batch_size: int = BATCH) -> RescoreResult:
    """Score every lead (``outreach scoring rescore --all``), a batch per transaction."""
    result = RescoreResult()
    config, _ = scoring_config(runtime.settings.home)
    if config is None:
        return result
    now = runtime.clock.now()
    after = 0
    while True:
        with runtime.sessions.begin() as session:
            ids = list(
                session.scalars(
                    select(Lead.id).where(Lead.id > after).order_by(Lead.id).limit(batch_size)
                )
            )
            if not ids:
                break
            session.execute(delete(ScoreMark).where(ScoreMark.lead_id.in_(ids)))
            result.add(rescore(session, runtime, ids, now, config=config))
        after = ids[-1]
    return result


__all__ = [
    "BATCH",
    "RescoreResult",
    "explain_lead",
    "rescore",
    "rescore_all",
    "score_marked",
    "top_rules",
    "why",
]
