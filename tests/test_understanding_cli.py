"""``outreach replies classify FILE.eml [--json]``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime
from worker.cli import main

OOO = (
    "From: Anna Berger <anna@client.test>\n"
    "To: Ada Fischer <ada.fischer@northwind-analytics.example>\n"
    "Subject: Automatic reply: Northwind for Client\n"
    "Date: Mon, 30 Nov 2026 10:00:00 +0100\n"
    "Auto-Submitted: auto-replied\n\n"
    "I am out of the office until Monday, December 7.\n"
)
REFERRAL = (
    "From: Anna Berger <anna@client.test>\n"
    "To: Ada Fischer <ada.fischer@northwind-analytics.example>\n"
    "Subject: Re: Northwind for Client\n"
    "Date: Mon, 30 Nov 2026 10:00:00 +0100\n\n"
    "Please reach out to my colleague Berta (berta@client.test).\n\n"
    "On Mon, Nov 30, 2026 Ada <ada.fischer@northwind-analytics.example> wrote:\n"
    "> Or write to jonas.berg@northwind-analytics.example\n"
)


@pytest.fixture
def invoke(project: Path, sqlite_url: str) -> Iterator[Invoke]:
    yield make_invoke(project, sqlite_url)
    reset_cli_runtime()


def test_json_prints_exactly_the_classification(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ooo.eml"
    path.write_text(OOO)
    result = invoke("replies", "classify", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data)[:4] == ["intent", "confidence", "return_date", "referral_email"]
    assert data["intent"] == "ooo"
    assert data["return_date"] == "2026-12-07"
    assert data["referral_email"] is None
    assert data["confidence"] >= 0.9


def test_the_summary_shows_intent_referral_reasons_and_text(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "referral.eml"
    path.write_text(REFERRAL)
    result = invoke("replies", "classify", str(path))
    assert result.exit_code == 0, result.output
    assert "intent:      referral" in result.output
    assert "referral:    berta@client.test" in result.output
    assert "referral phrase" in result.output
    assert "Please reach out to my colleague Berta" in result.output
    assert "jonas.berg" not in result.output  # quoted history is not shown as the text


def test_our_mailboxes_are_never_the_referral(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ours.eml"
    path.write_text(REFERRAL.replace("berta@client.test", "jonas.berg@northwind-analytics.example"))
    data = json.loads(invoke("replies", "classify", str(path), "--json").output)
    assert data["referral_email"] is None


def test_stdin_is_read_with_a_dash(project: Path) -> None:
    result = CliRunner().invoke(
        main, ["replies", "classify", "-", "--json"], input=OOO, env={"OUTREACH_HOME": str(project)}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["intent"] == "ooo"


def test_a_missing_file_is_one_clear_line(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("replies", "classify", str(tmp_path / "nope.eml"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "nope.eml: no such file" in lines[0]
    assert "Traceback" not in result.output


def test_help_has_examples(invoke: Invoke) -> None:
    result = invoke("replies", "classify", "--help")
    assert result.exit_code == 0
    assert "outreach replies classify reply.eml" in result.output
