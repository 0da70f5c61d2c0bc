"""The learned score: features as of a decision, training on won vs lost leads, applying it.

Histories are generated into a real database with a known signal (VP titles and visits to the
pricing page win far more often) or none at all; the trainer must find the one and admit the
other.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event, insert, update
from sqlalchemy.orm import Session, sessionmaker

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import REPO, START
from worker.scoring.features import (
    decision_cutoffs,
    decisions,
    fit_features,
    lead_features,
    open_cutoffs,
    read_features,
    size_bucket,
)
from worker.scoring.learned import LearnedModel, load_model, model_path
from worker.scoring.training import (
    MIN_CLASS,
    NotEnoughHistoryError,
    check_history,
    train,
)
from worker.store.db import make_engine, migrate, session_factory
from worker.store.models import Click, Event, Lead
from worker.vocabulary import EventKind, Stage

TITLES = (
    "VP Sales",
    "Vice President Marketing",
    "Sales Manager",
    "Marketing Director",
    "Software Engineer",
    "Head of Operations",
    "Account Executive",
    "Office Manager",
)
NO_RULES = "no rules score to compare with: none in this test"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def generate(
    session: Session, n: int, *, signal: bool, seed: int = 7, first_id: int = 1
) -> dict[int, bool]:
    """``n`` decided leads (ids from ``first_id``), each with a few weeks of engagement
    before its decision and one pricing-page visit after it; their outcomes by id.

    With ``signal``, a VP title and a pricing-page visit each multiply the odds of winning
    by about 10; without, every lead wins with the same chance, whatever it is or did.
    """
    rng = random.Random(seed)
    leads: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    clicks: list[dict[str, Any]] = []
    outcomes: dict[int, bool] = {}
    for lead_id in range(first_id, first_id + n):
        created = START + timedelta(hours=3 * lead_id)
        decided = created + timedelta(days=20)
        title = rng.choice(TITLES)
        pricing = rng.random() < 0.3
        if signal:
            vp = "VP" in title or "Vice President" in title
            logit = -2.6 + 2.3 * vp + 2.3 * pricing
            won = rng.random() < 1.0 / (1.0 + math.exp(-logit))
        else:
            won = rng.random() < 0.3
        outcomes[lead_id] = won
        free = rng.random() < 0.2
        leads.append(
            {
                "id": lead_id,
                "email": f"p{lead_id}@{'gmail.com' if free else f'firm{lead_id % 97}.example'}",
                "country": rng.choice(["DE", "US", "GB", "FR"]),
                "stage": Stage.WON if won else Stage.LOST,
                "status": "completed",
                "fields": {
                    "title": title,
                    "industry": rng.choice(["Software", "Retail", "Manufacturing"]),
                    "employees": str(rng.choice([8, 40, 150, 700, 5000])),
                    "plan": rng.choice(["free", "pro", "enterprise"]),
                    "notes": f"met at booth {lead_id}",  # free text: too many values
                },
                "created_at": created,
                "updated_at": decided,
            }
        )

        def event(
            kind: EventKind, at: datetime, cause: str | None = None, lead_id: int = lead_id
        ) -> None:
            events.append({"kind": kind, "at": at, "lead_id": lead_id, "cause": cause})

        for step in range(rng.randint(1, 4)):
            event(EventKind.SENT, created + timedelta(days=2 * step))
        if pricing:
            event(EventKind.ACTIVITY, created + timedelta(days=5), "pricing_page")
        if rng.random() < 0.3:
            event(EventKind.ACTIVITY, created + timedelta(days=6), "webinar")
        if rng.random() < 0.2:
            event(
                EventKind.CLASSIFIED,
                created + timedelta(days=7),
                rng.choice(["positive", "question"]),
            )
        if rng.random() < 0.2:
            event(EventKind.CALL_LOGGED, created + timedelta(days=8), "connected")
        for k in range(rng.randint(0, 2)):
            clicks.append(_click(lead_id, created + timedelta(days=3, minutes=k), counted=True))
        event(EventKind.STAGE_CHANGED, decided, "review")
        # After the decision: must never be read as a reason for it.
        event(EventKind.ACTIVITY, decided + timedelta(days=1), "pricing_page")
        clicks.append(_click(lead_id, decided + timedelta(days=1), counted=True))
    session.execute(insert(Lead), leads)
    for row in events:
        row.update(touch_id=None, sequence=None, step_index=None, detail={})
    session.execute(insert(Event), events)
    if clicks:
        session.execute(insert(Click), clicks)
    session.commit()
    return outcomes


def _click(lead_id: int, at: datetime, *, counted: bool) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "touch_id": None,
        "link": 0,
        "url": "https://example.com/pricing",
        "at": at,
        "method": "GET",
        "user_agent": "Mozilla/5.0",
        "counted": counted,
        "verdict": None if counted else "scanner",
    }


# --- features ------------------------------------------------------------------------


def test_fit_features_name_what_a_lead_is() -> None:
    row = fit_features(
        "ann@gmail.com",
        "de",
        {
            "Title": "VP of Sales",
            "industry": "Software",
            "employees": "51-200",
            "plan": "pro",
            "lost_reason": "budget",  # filled in at the decision: never a feature
        },
    )
    assert row == {
        "country=DE": 1.0,
        "email:free": 1.0,
        "industry=software": 1.0,
        "title:vp": 1.0,
        "title:sales": 1.0,
        "team_size=51-200": 1.0,
        "field:plan=pro": 1.0,
    }
    assert size_bucket("1,200 people") == "1001+"
    assert size_bucket("unknown") is None


def test_features_count_only_what_happened_before_the_decision(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        generate(session, 30, signal=True)
        before = read_features(session, decision_cutoffs())
        # More after the decision, for every lead: a visit, a call, a click.
        late = START + timedelta(days=400)
        session.execute(
            insert(Event),
            [
                {
                    "kind": EventKind.ACTIVITY,
                    "at": late,
                    "lead_id": i,
                    "cause": "pricing_page",
                    "detail": {},
                }
                for i in range(1, 31)
            ],
        )
        session.execute(insert(Click), [_click(i, late, counted=True) for i in range(1, 31)])
        session.commit()
        after = read_features(session, decision_cutoffs())
    assert after == before
    # The generator adds a pricing visit and a click after each decision: never counted.
    assert all(row.get("activity:pricing_page", 0.0) in (0.0, 1.0) for row in after.values())


def test_features_of_an_open_lead_count_everything_until_now(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        generate(session, 3, signal=True)
        now = START + timedelta(days=500)
        rows = read_features(session, open_cutoffs(now, [1, 2, 3]))
        assert lead_features(session, [1, 2, 3], now, chunk=2) == rows
        decided = read_features(session, decision_cutoffs())
    for lead_id in (1, 2, 3):
        assert rows[lead_id]["clicks"] > decided[lead_id].get("clicks", 0.0)
        assert rows[lead_id]["activity:pricing_page"] >= 1.0


def test_decisions_are_the_last_stage_change_oldest_first(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        outcomes = generate(session, 10, signal=False)
        found = decisions(session)
    assert [d.lead_id for d in found] == list(range(1, 11))
    assert {d.lead_id: d.won for d in found} == outcomes
    assert found[0].at == START + timedelta(hours=3, days=20)


# --- training ---------------------------------------------------------------------------


def test_training_finds_the_signal_and_the_model_explains_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        generate(session, 700, signal=True)
        result = train(session, tmp_path, now=START, rules=NO_RULES)
    assert result.learned.auc > 0.75
    assert result.learned.auc_ci[0] > 0.5
    assert result.has_skill
    assert result.beats_rules is None  # nothing to compare with
    assert result.split["kind"] == "time"
    assert result.counts["held_out"] == 175
    assert result.learned.lift_top_decile > 1.5
    top = [name for name, _ in result.model.weights(2)]
    assert set(top) == {"title:vp", "activity:pricing_page"}
    assert not any(name.startswith("field:notes") for name in result.model.names)
    lead = {"title:vp": 1.0, "activity:pricing_page": 1.0, "country=DE": 1.0, "sent": 1.0}
    explained = [row["feature"] for row in result.model.explain(lead)]
    assert set(explained[:2]) == {"title:vp", "activity:pricing_page"}
    assert result.model.score(lead) > 3 * result.model.score({"sent": 1.0})
    # Calibrated: the mean predicted probability is near the held-out win rate.
    table = result.learned.reliability
    predicted = sum(r["predicted"] * r["leads"] for r in table) / 175
    observed = sum(r["won"] * r["leads"] for r in table) / 175
    assert abs(predicted - observed) < 0.08


def test_training_on_noise_says_the_model_has_no_skill(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        generate(session, 400, signal=False)

        def rules(session: Session, lead_ids: Any, times: Any) -> list[float]:
            return [float(i % 7) for i in lead_ids]  # no skill either

        result = train(session, tmp_path, now=START, rules=rules)
    low, high = result.learned.auc_ci
    assert low < 0.5 < high
    assert not result.has_skill
    assert result.verdict.startswith("no skill")
    assert result.beats_rules is False
    assert result.difference_ci is not None
    assert result.difference_ci[0] < 0 < result.difference_ci[1]


RULES_THAT_KNOW = """
fit:
  - field: title
    contains: [VP, Vice]
    points: 20
engagement:
  - event: activity
    type: pricing_page
    points: 20
"""
RULES_THAT_GUESS = """
fit:
  - field: country
    in: [DE, GB]
    points: 10
"""


@pytest.mark.parametrize(
    ("rules", "beats"), [(RULES_THAT_KNOW, False), (RULES_THAT_GUESS, True)], ids=["know", "guess"]
)
def test_the_model_is_compared_with_the_rules_of_scoring_yaml_on_the_same_leads(
    sessions: sessionmaker[Session], tmp_path: Path, rules: str, beats: bool
) -> None:
    (tmp_path / "scoring.yaml").write_text(rules, "utf-8")
    with sessions() as session:
        generate(session, 600, signal=True)
        result = train(session, tmp_path, now=START)
    assert result.rules is not None, result.rules_note
    assert result.beats_rules is beats
    assert result.difference_ci is not None
    if beats:
        assert result.verdict.startswith("the model beats the rules")
        assert "`model: learned`" in result.verdict
        assert result.rules.auc < 0.6
        assert result.difference_ci[0] > 0
    else:
        assert result.verdict.startswith("the model does not beat the rules")
        # The rules hold the whole signal: the model cannot do better by a margin.
        assert result.rules.auc > 0.75
        assert result.difference_ci[0] < 0.02


def test_without_scoring_yaml_the_model_is_reported_alone(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        generate(session, 200, signal=True)
        result = train(session, tmp_path, now=START)
    assert result.rules is None
    assert result.beats_rules is None
    assert "scoring.yaml does not exist" in result.rules_note


def test_when_the_newest_decisions_lack_an_outcome_the_split_is_stratified(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        generate(session, 300, signal=True)
        session.execute(update(Lead).where(Lead.id > 200).values(stage=Stage.LOST))
        session.commit()
        result = train(session, tmp_path, now=START, rules=NO_RULES)
    assert result.split["kind"] == "stratified"
    assert "newest decisions lack" in result.split["why"]
    assert result.counts["held_out"] == 75


def test_too_little_history_says_how_many_more_leads_are_needed() -> None:
    with pytest.raises(NotEnoughHistoryError) as raised:
        check_history({"decided": 30, "won": 4, "lost": 26})
    message = str(raised.value)
    assert "30 decided leads (4 won, 26 lost)" in message
    assert "it needs 11 more won leads and 9 more of either outcome." in message
    with pytest.raises(NotEnoughHistoryError, match="it needs 20 more won or lost leads"):
        check_history({"decided": 30, "won": 15, "lost": 15})
    with pytest.raises(NotEnoughHistoryError, match=f"it needs {MIN_CLASS} more lost leads\\."):
        check_history({"decided": 80, "won": 80, "lost": 0})
    check_history({"decided": 50, "won": 15, "lost": 35})


# --- the saved model -------------------------------------------------------------------


def test_a_model_scores_and_explains_with_numpy_alone(tmp_path: Path) -> None:
    assert load_model(tmp_path) is None
    model = LearnedModel(
        names=("a", "b", "c"), coef=np.asarray([2.0, -1.0, 0.1]), intercept=-1.0, meta={"x": 1}
    )
    model_path(tmp_path).write_text(json.dumps(model.to_json()), "utf-8")
    loaded = load_model(tmp_path)
    assert loaded is not None
    assert loaded.names == ("a", "b", "c")
    assert loaded.meta == {"x": 1}
    assert loaded.score({}) == round(100 / (1 + math.e), 1)
    assert loaded.score({"a": 1.0, "unknown": 5.0}) == round(100 / (1 + math.exp(-1)), 1)
    assert loaded.explain({"a": 1.0, "b": 3.0, "c": 1.0}, top=2) == [
        {"feature": "b", "value": 3.0, "points": -3.0},
        {"feature": "a", "value": 1.0, "points": 2.0},
    ]


def test_applying_a_model_never_imports_scikit_learn() -> None:
    code = (
        "import sys, worker.scoring.learned, worker.scoring.features, worker.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert found.stdout.strip() == "[]"


def test_a_damaged_model_file_is_a_clear_error(tmp_path: Path) -> None:
    from worker.errors import ConfigError

    model_path(tmp_path).write_text('{"format": 1, "features": ["a"]}', "utf-8")
    with pytest.raises(ConfigError, match="run 'outreach scoring train' again"):
        load_model(tmp_path)


# --- the command -------------------------------------------------------------------------


def test_the_command_trains_saves_and_prints_the_figures(
    project: Path, database_url: str, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        generate(session, 400, signal=True)
    invoke = make_invoke(project, database_url)
    try:
        result = invoke("scoring", "train")
        assert result.exit_code == 0, result.output
        assert "trained on 400 decided leads" in result.output
        assert "AUC" in result.output
        assert "title:vp" in result.output
        assert "scoring.yaml" in result.output
        saved = json.loads(model_path(project).read_text("utf-8"))
        assert saved["counts"]["decided"] == 400
        assert len(saved["features"]) == len(saved["coefficients"])
        shown = invoke("scoring", "train", "--json")
        assert shown.exit_code == 0, shown.output
        figures = json.loads(shown.output)
        assert figures["metrics"]["auc"] > 0.75
        assert len(figures["metrics"]["reliability"]) >= 2
        assert figures["has_skill"] is True
        assert figures["verdict"]
        assert figures["model"] == str(model_path(project))
    finally:
        reset_cli_runtime()


def test_the_command_with_too_little_history_writes_nothing(
    project: Path, database_url: str, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        generate(session, 40, signal=True)
    invoke = make_invoke(project, database_url)
    try:
        result = invoke("scoring", "train")
    finally:
        reset_cli_runtime()
    assert result.exit_code == 1
    assert "too little history" in result.output
    assert "it needs" in result.output
    assert not model_path(project).exists()


# --- scale -------------------------------------------------------------------------------


def statements_to_read_features(tmp_path: Path, leads: int) -> tuple[int, int]:
    """(rows read, SQL statements run) for the features of ``leads`` generated leads."""
    engine = make_engine(f"sqlite:///{tmp_path / f'{leads}.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    with sessions() as session:
        generate(session, leads, signal=True, seed=1, first_id=1)
        event.listen(engine, "before_cursor_execute", count)
        rows = read_features(session, decision_cutoffs())
        event.remove(engine, "before_cursor_execute", count)
    engine.dispose()
    return len(rows), statements


def test_features_are_read_set_based_whatever_the_number_of_leads(tmp_path: Path) -> None:
    """A few statements for any number of leads (speed is measured in bench/, not here)."""
    few = statements_to_read_features(tmp_path, 200)
    many = statements_to_read_features(tmp_path, 4_000)
    assert few[0] == 200
    assert many[0] == 4_000
    assert many[1] == few[1] <= 5
