"""Scoring rules as code: fit operators on lead fields, engagement with decay and ``max``,
and ``scoring.yaml`` validated with every problem at its file and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import START
from worker.clock import VirtualClock
from worker.scoring.config import ScoringConfig, check_sequences, load_scoring
from worker.scoring.rules import decayed, score_lead
from worker.vocabulary import EventKind

REPO = Path(__file__).resolve().parent.parent


def _config(**data: Any) -> ScoringConfig:
    return ScoringConfig.model_validate(data)


def _lead(**columns: Any) -> SimpleNamespace:
    base = {"email": "ada@northwind.test", "country": None, "stage": "prospecting"}
    return SimpleNamespace(**(base | {"fields": {}} | columns))


def _event(n: int, kind: str, at: Any, cause: str | None = None, **detail: Any) -> Any:
    return SimpleNamespace(id=n, kind=kind, at=at, cause=cause, detail=detail)


def _fit(**rule: Any) -> float:
    config = _config(fit=[{"points": 10, **rule}])
    return score_lead(config, _LEAD, [], START).value


_LEAD = _lead(
    country="DE",
    company="Brauhaus Logistik GmbH",
    fields={"title": "Leiterin Vertrieb", "team_size": "32", "industry": "Logistik", "crm": ""},
)


@pytest.mark.parametrize(
    ("rule", "points"),
    [
        ({"field": "title", "contains": ["Head", "Leiter", "VP"]}, 10),
        ({"field": "title", "contains": "vp"}, 0),
        ({"field": "country", "equals": "de"}, 10),
        ({"field": "country", "in": ["AT", "CH", "DE"]}, 10),
        ({"field": "country", "not_in": ["AT", "CH", "DE"]}, 0),
        ({"field": "industry", "not_in": ["Retail"]}, 10),
        ({"field": "team_size", "gte": 32}, 10),
        ({"field": "team_size", "gt": 32}, 0),
        ({"field": "team_size", "lt": 50}, 10),
        ({"field": "team_size", "equals": 32}, 10),
        ({"field": "industry", "gte": 10}, 0),  # not a number: never matches
        ({"field": "company", "matches": r"\bgmbh$"}, 10),
        ({"field": "email", "matches": "@gmail\\."}, 0),
        ({"field": "crm", "exists": True}, 0),  # empty is missing
        ({"field": "crm", "exists": False}, 10),
        ({"field": "nowhere", "not_in": ["x"]}, 0),  # missing matches no comparison
        ({"field": "title", "contains": ["Leiter"], "points": -5}, -5),
    ],
)
def test_a_fit_rule_matches_its_field_with_its_operator(
    rule: dict[str, Any], points: float
) -> None:
    assert _fit(**rule) == points


def test_engagement_points_halve_every_half_life_as_the_clock_moves() -> None:
    clock = VirtualClock(START)
    config = _config(
        engagement=[{"event": "reply", "intent": "positive", "points": 40, "half_life_days": 10}]
    )
    reply = _event(1, EventKind.CLASSIFIED, clock.now(), "positive")
    assert score_lead(config, _lead(), [reply], clock.now()).value == 40
    clock.advance(timedelta(days=10))
    later = score_lead(config, _lead(), [reply], clock.now())
    assert later.value == 20
    (why,) = later.contributions
    assert why["rule"] == "reply positive"
    assert why["age_days"] == 10
    assert why["base"] == 40
    clock.advance(timedelta(days=10))
    assert score_lead(config, _lead(), [reply], clock.now()).value == 10
    assert decayed(8, 5, None) == 8


def test_engagement_counts_only_what_its_rule_names_and_the_newest_max() -> None:
    at = START + timedelta(days=3)
    config = _config(
        engagement=[
            {"name": "clicks", "event": "link_clicked", "points": 5, "max": 2},
            {"event": "reply", "intent": ["question", "referral"], "points": 15},
            {"event": "activity", "type": "webinar_attended", "points": 20},
            {"event": "call_logged", "outcome": "connected", "points": 10},
            {"event": "captured", "points": 3},
        ]
    )
    events = [
        _event(1, EventKind.LINK_CLICKED, START, counted=True),
        _event(2, EventKind.LINK_CLICKED, START + timedelta(days=1), counted=True),
        _event(3, EventKind.LINK_CLICKED, START + timedelta(days=2), counted=True),
        _event(4, EventKind.LINK_CLICKED, START, counted=False, verdict="scanner"),
        _event(5, EventKind.CLASSIFIED, START, "question"),
        _event(6, EventKind.CLASSIFIED, START, "referral", low_confidence=True),
        _event(7, EventKind.CLASSIFIED, START, "negative"),
        _event(8, EventKind.ACTIVITY, START, "webinar_attended"),
        _event(9, EventKind.ACTIVITY, START, "pricing_page_visit"),
        _event(10, EventKind.CALL_LOGGED, START, "connected"),
        _event(11, EventKind.CALL_LOGGED, START, "no_answer"),
        _event(12, EventKind.CAPTURED, START, "form", source="form"),
        _event(13, EventKind.CLASSIFIED, at + timedelta(days=1), "question"),  # after ``at``
    ]

    score = score_lead(config, _lead(), events, at)

    assert score.value == 5 + 5 + 15 + 20 + 10 + 3
    clicks = [c for c in score.contributions if c["rule"] == "clicks"]
    assert [c["event_id"] for c in clicks] == [3, 2]  # the newest two
    assert not score.decaying


def test_a_score_with_only_faded_engagement_no_longer_decays() -> None:
    config = _config(engagement=[{"event": "captured", "points": 10, "half_life_days": 1}])
    old = _event(1, EventKind.CAPTURED, START, "form")
    assert score_lead(config, _lead(), [old], START).decaying
    assert not score_lead(config, _lead(), [old], START + timedelta(days=30)).decaying


def test_the_example_scoring_yaml_is_valid_and_its_sequences_exist() -> None:
    loaded, problems = load_scoring(REPO / "scoring.yaml", REPO)
    assert problems == []
    assert loaded is not None
    assert loaded.config.threshold_items() == [("mql", 50), ("sql_candidate", 80)]
    names = {path.stem for path in (REPO / "sequences").glob("*.yaml")}
    assert check_sequences(loaded, names) == []


BROKEN = """\
model: rules
fit:
  - field: title
    contains: [Head]
    points: 10
  - field: team_size
    gte: 10
    lte: 100
    points: 5
  - field: company
    matches: "(unclosed"
    points: 3
engagement:
  - event: reply
    intent: positve
    points: 10
  - event: link_clicked
    type: webinar
    points: 1
  - event: activity
    points: 1
    half_life_days: 0
  - event: captured
    pints: 4
thresholds:
  mql: 50
  sql_candidate: 40
on_cross:
  mql: [flag, shout]
"""


def test_every_problem_of_scoring_yaml_names_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "scoring.yaml"
    path.write_text(BROKEN, encoding="utf-8")

    loaded, problems = load_scoring(path, tmp_path)

    assert loaded is None
    found = {(p.line, p.message.split(":")[0]) for p in problems}
    text = "\n".join(str(p) for p in problems)
    assert all(str(p).startswith("scoring.yaml:") for p in problems), text
    assert (6, "fit.1") in found  # two operators
    assert (11, "fit.2.matches") in found  # a bad regular expression
    assert (15, "engagement.0.intent") in found
    assert "did you mean 'positive'" in text
    assert (17, "engagement.1") in found
    assert "'type' applies only to 'event: activity'" in text
    assert (22, "engagement.2.half_life_days") in found
    assert any(line == 24 and "unknown key" in msg for line, msg in found), text
    assert "did you mean 'points'" in text
    assert (23, "missing required key 'points' in engagement.3") in found
    assert (25, "thresholds") in found
    assert "must be higher than mql" in text
    assert (28, "on_cross") in found
    assert "unknown action 'shout'" in text


def test_a_syntax_error_and_an_unknown_sequence_are_reported_at_their_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scoring.yaml"
    path.write_text("fit:\n  - field: [unclosed\n", encoding="utf-8")
    _, problems = load_scoring(path, tmp_path)
    assert [p.line for p in problems] == [2]
    assert "YAML syntax error" in problems[0].message

    path.write_text(
        "thresholds:\n  mql: 10\non_cross:\n  mql:\n    - flag\n    - enroll:nurtre\n",
        encoding="utf-8",
    )
    loaded, problems = load_scoring(path, tmp_path)
    assert loaded is not None
    assert problems == []
    (problem,) = check_sequences(loaded, {"nurture", "prospecting"})
    assert problem.line == 6
    assert "no sequence named 'nurtre'" in problem.message
    assert "did you mean 'nurture'" in (problem.message)


def test_no_scoring_yaml_means_scoring_is_off(tmp_path: Path) -> None:
    assert load_scoring(tmp_path / "scoring.yaml", tmp_path) == (None, [])
