"""``outreach scoring check | explain | rescore``, ``leads show`` and ``leads list --sort
score`` with scores and why, and ``outreach validate`` reporting scoring.yaml."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime
from tests.test_scoring_engine import SCORING

REPO = Path(__file__).resolve().parent.parent
ADA = "ada@northwind.test"  # Head of Sales, GB
KLAUS = "k.mueller@brauhaus-logistik.test"  # Head of Sales DACH, DE


@pytest.fixture
def invoke(project: Path, database_url: str) -> Iterator[Invoke]:
    (project / "scoring.yaml").write_text(SCORING, encoding="utf-8")
    yield make_invoke(project, database_url)
    reset_cli_runtime()


def _imported(invoke: Invoke) -> None:
    result = invoke("leads", "import", "examples/leads.csv", "--no-enroll")
    assert result.exit_code == 0, result.output


def test_scoring_check_prints_the_rules_and_exits_1_on_a_problem(
    invoke: Invoke, project: Path
) -> None:
    result = invoke("scoring", "check")
    assert result.exit_code == 0, result.output
    assert "+20  decision maker" in result.output
    assert "+40  positive reply, half-life 10 days" in result.output
    assert "threshold mql: 50 (on cross: flag)" in result.output
    as_json = json.loads(invoke("scoring", "check", "--json").output)
    assert as_json["fit"][1]["in"] == ["DE", "GB"]

    text = SCORING.replace("mql: [flag]", "mql: [flag, enroll:prospectin]")
    (project / "scoring.yaml").write_text(text, encoding="utf-8")
    result = invoke("scoring", "check")
    assert result.exit_code == 1
    line = text.splitlines().index("  mql: [flag, enroll:prospectin]") + 1
    assert f"scoring.yaml:{line}: on_cross.mql: no sequence named 'prospectin'" in result.output
    assert "did you mean 'prospecting'" in result.output


def test_validate_reports_scoring_yaml_at_its_line_and_passes_without_one(
    invoke: Invoke, project: Path
) -> None:
    (project / "scoring.yaml").write_text("fit:\n  - field: title\n    points: 5\n", "utf-8")
    result = invoke("validate")
    assert result.exit_code == 1
    assert "scoring.yaml:2: fit.0: a fit rule needs exactly one operator" in result.output
    (project / "scoring.yaml").unlink()
    assert invoke("validate").exit_code == 0
    shutil.copy(REPO / "scoring.yaml", project / "scoring.yaml")  # the example in the repo
    assert invoke("validate").exit_code == 0, invoke("validate").output


def test_rescore_stores_scores_that_leads_show_and_list_explain(invoke: Invoke) -> None:
    _imported(invoke)
    result = invoke("scoring", "rescore", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scored"] >= 2

    shown = json.loads(invoke("leads", "show", ADA, "--json").output)
    assert shown["score"] == 30
    assert shown["qualification"] is None
    assert {c["rule"] for c in shown["score_detail"]} == {"decision maker", "country in DE, GB"}
    text = invoke("leads", "show", ADA).output
    assert "score: 30 (not qualified" in text
    assert "+20.00  fit        decision maker" in text

    rows = json.loads(invoke("leads", "list", "--sort", "score", "--json").output)
    scores = [row["score"] for row in rows]
    assert scores[0] == 30
    assert scores == sorted(scores, key=lambda s: -1 if s is None else s, reverse=True)
    assert "score" in invoke("leads", "list", "--sort", "score").output


def test_explain_computes_the_score_now_without_storing_it(invoke: Invoke) -> None:
    _imported(invoke)
    result = invoke("scoring", "explain", KLAUS, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["score"] == 30
    assert data["stored_score"] is None
    assert data["fit"] == 30
    text = invoke("scoring", "explain", KLAUS).output
    assert "fit 30 + engagement 0" in text
    assert "decision maker" in text

    unknown = invoke("scoring", "explain", "nobody@example.test")
    assert unknown.exit_code == 1
    assert "No lead with email" in unknown.output


def test_without_scoring_yaml_explain_and_rescore_say_scoring_is_off(
    invoke: Invoke, project: Path
) -> None:
    (project / "scoring.yaml").unlink()
    assert "scoring is off" in invoke("scoring", "check").output
    result = invoke("scoring", "rescore")
    assert result.exit_code == 1
    assert "scoring.yaml is missing" in result.output


def test_imported_leads_are_marked_and_the_next_scoring_pass_scores_them(
    invoke: Invoke, project: Path
) -> None:
    _imported(invoke)  # no rescore --all: the import marked every lead it wrote
    result = invoke("scoring", "rescore", "--json")
    assert result.exit_code == 0, result.output
    imported = len(json.loads(invoke("leads", "list", "--json").output))
    assert json.loads(result.output)["scored"] == imported
    assert json.loads(invoke("leads", "show", ADA, "--json").output)["score"] == 30


def test_without_scoring_yaml_an_import_marks_nobody(invoke: Invoke, project: Path) -> None:
    (project / "scoring.yaml").unlink()
    _imported(invoke)
    (project / "scoring.yaml").write_text(SCORING, encoding="utf-8")
    result = invoke("scoring", "rescore", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scored"] == 0
