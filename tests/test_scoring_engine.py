"""Scores in the database: stored with why, thresholds crossed once and only once (also by
concurrent scorers, on SQLite and PostgreSQL), marks from events scored by the tick, and
decaying scores computed again while nothing else happens."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from tests.reply_support import first_touch_after_a_batch, reply_to
from worker.delivery.tick import tick
from worker.leads.stages import change_stage
from worker.scoring.engine import rescore, score_marked
from worker.scoring.marks import mark
from worker.store import events
from worker.store.models import Event, Lead, ReviewItem, ScoreCrossing, ScoreMark
from worker.understanding import Classification
from worker.vocabulary import EventKind, Qualification, ReviewReason

ADA = "ada@northwind.test"  # Head of Sales, GB, team of 18
SCORING = """\
fit:
  - name: decision maker
    field: title
    contains: [Head, VP, Leiter]
    points: 20
  - field: country
    in: [DE, GB]
    points: 10
engagement:
  - name: positive reply
    event: reply
    intent: positive
    points: 40
    half_life_days: 10
  - event: activity
    type: webinar_attended
    points: 60
thresholds:
  mql: 50
  sql_candidate: 90
on_cross:
  mql: [flag]
decay_every_hours: 24
"""


def _write_scoring(project: Path, text: str = SCORING) -> None:
    (project / "scoring.yaml").write_text(text, encoding="utf-8")


def _add_lead(runtime, email: str = ADA, **fields: object) -> int:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        lead = Lead(
            email=email,
            first_name="Ada",
            country="GB",
            fields={"title": "Head of Sales", **fields},
            created_at=now,
            updated_at=now,
        )
        session.add(lead)
        session.flush()
        return lead.id


def _activity(runtime, lead_id: int, kind: str = "webinar_attended") -> None:
    with runtime.sessions.begin() as session:
        events.record(
            session, EventKind.ACTIVITY, at=runtime.clock.now(), lead_id=lead_id, cause=kind
        )


def test_a_rescore_stores_the_score_with_why_and_crosses_mql_once(runtime, project) -> None:
    _write_scoring(project)
    lead_id = _add_lead(runtime)
    with runtime.sessions.begin() as session:
        result = rescore(session, runtime, [lead_id], runtime.clock.now())
    assert result.scored == 1
    assert result.crossed == []
    with runtime.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.score == 30
        assert lead.scored_at == runtime.clock.now()
        assert [c["rule"] for c in lead.score_detail or []] == [
            "decision maker",
            "country in DE, GB",
        ]
        assert lead.qualification is None

    _activity(runtime, lead_id)
    for _ in range(2):
        with runtime.sessions.begin() as session:
            rescore(session, runtime, [lead_id], runtime.clock.now())

    with runtime.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.score == 90
        assert lead.qualification == Qualification.MQL
        assert lead.mql_at == runtime.clock.now()
        crossed = session.scalars(
            select(Event).where(Event.lead_id == lead_id, Event.kind == EventKind.SCORE_CROSSED)
        ).all()
        assert sorted(e.cause for e in crossed) == ["mql", "sql_candidate"]
        mql = next(e for e in crossed if e.cause == "mql")
        assert mql.detail["score"] == 90
        assert mql.detail["rules"][0]["rule"] == "activity webinar_attended"
        reasons = sorted(
            session.scalars(select(ReviewItem.reason).where(ReviewItem.lead_id == lead_id))
        )
        # mql: the flag of on_cross; sql_candidate: "Accept as SQL?"
        assert reasons == [ReviewReason.SALES_ACCEPTANCE, ReviewReason.SCORE_CROSSED]


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_concurrent_scorers_cross_a_threshold_once_and_only_once(runtime, project) -> None:
    _write_scoring(project)
    lead_ids = [_add_lead(runtime, f"lead{n}@example.test") for n in range(5)]
    for lead_id in lead_ids:
        _activity(runtime, lead_id)
    scorers = 6
    start = threading.Barrier(scorers)
    failures: list[BaseException] = []

    def score() -> None:
        try:
            start.wait(timeout=10)
            with runtime.sessions.begin() as session:
                rescore(session, runtime, lead_ids, runtime.clock.now())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=score) for _ in range(scorers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    with runtime.sessions() as session:
        assert _count(session, ScoreCrossing) == 2 * len(lead_ids)
        assert _count(session, Event, Event.kind == EventKind.SCORE_CROSSED) == 2 * len(lead_ids)
        assert _count(session, ReviewItem, ReviewItem.reason == ReviewReason.SCORE_CROSSED) == 5
        assert _count(
            session, ReviewItem, ReviewItem.reason == ReviewReason.SALES_ACCEPTANCE
        ) == len(lead_ids)
        assert set(session.scalars(select(Lead.qualification))) == {Qualification.MQL}


def test_a_classified_reply_marks_the_lead_and_the_tick_scores_it(runtime, project) -> None:
    _write_scoring(project)
    touch = first_touch_after_a_batch(runtime, project, ADA)
    runtime.clock.advance(timedelta(hours=1))
    reply_to(runtime, touch, Classification("positive", 0.9, text="Sounds good."))
    with runtime.sessions() as session:
        assert session.get(ScoreMark, touch.lead_id) is not None

    result = tick(runtime)

    assert result.scored >= 1
    now = runtime.clock.now()
    with runtime.sessions() as session:
        lead = session.get(Lead, touch.lead_id)
        assert lead is not None
        assert lead.score == 20 + 10 + 40
        assert lead.scored_at == now
        assert lead.qualification == Qualification.MQL
        # The reply's points decay: the lead is marked due again a day later, not now.
        mark = session.get(ScoreMark, touch.lead_id)
        assert mark is not None
        assert mark.marked_at == now + timedelta(hours=24)

    runtime.clock.advance(timedelta(days=10))
    tick(runtime)
    with runtime.sessions() as session:
        lead = session.get(Lead, touch.lead_id)
        assert lead is not None
        assert lead.score == 20 + 10 + 20
        reply = next(c for c in lead.score_detail or [] if c["rule"] == "positive reply")
        assert reply["age_days"] == 10
        assert reply["base"] == 40
        assert _count(session, ScoreCrossing, ScoreCrossing.lead_id == lead.id) == 1


def test_a_new_event_is_not_held_back_by_a_later_decay_mark(runtime, project) -> None:
    _write_scoring(project)
    lead_id = _add_lead(runtime)
    later = runtime.clock.now() + timedelta(hours=24)
    with runtime.sessions.begin() as session:
        mark(session, [lead_id], later)
        mark(session, [lead_id], runtime.clock.now())
        mark(session, [lead_id], later)
    with runtime.sessions() as session:
        found = session.get(ScoreMark, lead_id)
        assert found is not None
        assert found.marked_at == runtime.clock.now()


def test_a_stage_change_marks_the_lead(runtime, project) -> None:
    lead_id = _add_lead(runtime)
    with runtime.sessions.begin() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        change_stage(session, lead, "qualification", at=runtime.clock.now(), cause="test")
    with runtime.sessions() as session:
        assert session.get(ScoreMark, lead_id) is not None


def test_without_scoring_yaml_the_tick_scores_nothing_and_asks_the_database_nothing(
    runtime, project
) -> None:
    lead_id = _add_lead(runtime)
    with runtime.sessions.begin() as session:
        mark(session, [lead_id], runtime.clock.now())
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        assert score_marked(runtime).scored == 0
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert statements == []
    with runtime.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.score is None
        assert session.get(ScoreMark, lead_id) is not None  # kept for when scoring starts


def test_on_cross_notifies_the_owner_and_enrolls_or_advances_the_lead(runtime, project) -> None:
    text = SCORING.replace("mql: [flag]", "mql: [notify, 'enroll:consideration']")
    text = text.replace("sql_candidate: 90", "sql_candidate: 95")
    _write_scoring(project, text.replace("on_cross:\n", "on_cross:\n  sql_candidate: [advance]\n"))
    owned = _add_lead(runtime, "owned@example.test")
    with runtime.sessions.begin() as session:
        lead = session.get(Lead, owned)
        assert lead is not None
        lead.owner = "rita"
    _activity(runtime, owned)

    with runtime.sessions.begin() as session:
        rescore(session, runtime, [owned], runtime.clock.now())

    with runtime.sessions() as session:
        item = session.scalar(
            select(ReviewItem).where(ReviewItem.reason == ReviewReason.SCORE_CROSSED)
        )
        assert item is not None
        assert item.assignee == "rita"
        assert item.detail is not None
        assert item.detail.startswith("notify: score 90 crossed mql (50)")
        sequences = session.scalars(
            select(Event.sequence).where(Event.lead_id == owned, Event.kind == EventKind.ENROLLED)
        ).all()
        assert sequences == ["consideration"]
        lead = session.get(Lead, owned)
        assert lead is not None
        assert lead.stage == "prospecting"  # 90 < 95: no advance

    _activity(runtime, owned, "webinar_attended")
    with runtime.sessions.begin() as session:
        rescore(session, runtime, [owned], runtime.clock.now())
    with runtime.sessions() as session:
        lead = session.get(Lead, owned)
        assert lead is not None
        assert lead.score == 150
        assert lead.stage == "qualification"


def test_a_tick_scores_a_bounded_number_of_marks_and_leaves_the_rest_for_the_next(
    runtime, project
) -> None:
    _write_scoring(project)
    lead_ids = [_add_lead(runtime, f"m{n}@example.test") for n in range(5)]
    with runtime.sessions.begin() as session:
        mark(session, lead_ids, runtime.clock.now())

    assert score_marked(runtime, batch_size=2, max_batches=1).scored == 2
    with runtime.sessions() as session:
        assert _count(session, ScoreMark) == 3
    assert score_marked(runtime, batch_size=2, max_batches=None).scored == 3
    with runtime.sessions() as session:
        assert _count(session, ScoreMark) == 0  # fit points only: nothing decays
        assert _count(session, Lead, Lead.score == 30) == 5


@pytest.mark.parametrize(
    ("stage", "status"),
    [("lost", "completed"), ("won", "completed"), ("prospecting", "unsubscribed")],
)
def test_a_decided_or_unsubscribed_lead_is_scored_but_never_qualified(
    runtime, project, stage: str, status: str
) -> None:
    _write_scoring(project)
    lead_id = _add_lead(runtime)
    _activity(runtime, lead_id)
    with runtime.sessions.begin() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        lead.stage, lead.status = stage, status
    with runtime.sessions.begin() as session:
        result = rescore(session, runtime, [lead_id], runtime.clock.now())
    assert result.crossed == []
    with runtime.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.score == 90
        assert lead.qualification is None
        assert not _count(session, ReviewItem, ReviewItem.lead_id == lead_id)
        assert not _count(session, ScoreCrossing, ScoreCrossing.lead_id == lead_id)


def test_marks_made_in_a_buffered_batch_are_written_once_at_its_end(runtime, project) -> None:
    lead_id = _add_lead(runtime)
    now = runtime.clock.now()
    with runtime.sessions.begin() as session, events.buffered(session):
        mark(session, [lead_id], now + timedelta(hours=2))
        mark(session, [lead_id, None], now)
        assert not _count(session, ScoreMark)  # nothing written inside the batch
    with runtime.sessions() as session:
        marks = session.scalars(select(ScoreMark)).all()
        assert [(m.lead_id, m.marked_at) for m in marks] == [(lead_id, now)]
