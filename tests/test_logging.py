"""What an operator reads on standard error: the worker's own INFO lines (one per run, batch,
inbox poll and send), libraries quiet unless ``-v``, one JSON object per line on request."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from worker.cli.logs import JsonFormatter

OUTREACH = Path(sys.executable).with_name("outreach")
LATER = "2027-01-04T10:00:00Z"  # the first touches of the sample leads are due by then


@pytest.fixture
def project(tmp_path: Path) -> Path:
    home = tmp_path / "project"
    home.mkdir()
    for name in ("sequences", "templates", "examples"):
        shutil.copytree(REPO / name, home / name)
    for name in ("mailboxes.yaml", "schedules.yaml"):
        shutil.copy(REPO / name, home / name)
    return home


def _outreach(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "REDIS_"))},
        "DATABASE_URL": f"sqlite:///{project / 'outreach.db'}",
        "OUTREACH_SECRET_KEY": "test",
        "OUTREACH_NOW": "2027-01-04T09:00:00Z",
        **env,
    }
    return subprocess.run(
        [str(OUTREACH), "--home", str(project), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


def test_a_run_logs_its_sends_and_its_summary_without_library_chatter(project: Path) -> None:
    imported = _outreach(project, "leads", "import", str(project / "examples" / "leads.csv"))
    assert imported.returncode == 0, imported.stderr
    run = _outreach(project, "run", OUTREACH_NOW=LATER)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    sent = [line for line in lines if " INFO worker.delivery.recording: touch " in line]
    assert sent, run.stderr
    assert all(" sent: lead " in line for line in sent)
    assert any(" INFO worker.processes.batch: run: " in line for line in lines)
    assert not any("alembic" in line or "apscheduler" in line for line in lines)


def test_json_lines_carry_the_ids_a_line_was_logged_with(project: Path) -> None:
    _outreach(project, "leads", "import", str(project / "examples" / "leads.csv"))
    run = _outreach(project, "run", OUTREACH_LOG_FORMAT="json", OUTREACH_NOW=LATER)
    assert run.returncode == 0, run.stderr
    entries = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    sent = [e for e in entries if e.get("event") == "sent"]
    assert sent
    assert {"ts", "level", "logger", "message", "touch_id", "lead_id"} <= set(sent[0])
    summary = next(e for e in entries if e["message"].startswith("run: "))
    assert summary["totals"]["sent"] == len(sent)


def test_interactive_commands_print_results_not_log_lines(project: Path) -> None:
    imported = _outreach(project, "leads", "import", str(project / "examples" / "leads.csv"))
    assert imported.returncode == 0
    assert " INFO " not in imported.stderr  # the migration of a new database included
    assert "25 created" in imported.stdout


def test_verbose_lets_the_libraries_speak(project: Path) -> None:
    quiet = _outreach(project, "leads", "list")
    loud = _outreach(project, "-v", "leads", "list", DATABASE_URL=f"sqlite:///{project / 'b.db'}")
    assert "alembic" not in quiet.stderr
    assert "alembic" in loud.stderr  # the migrations of a new database, at INFO


def test_the_json_formatter_keeps_extras_and_exceptions() -> None:
    record = logging.LogRecord("worker.x", logging.ERROR, __file__, 1, "boom %s", ("here",), None)
    record.touch_id = 7
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["message"], entry["touch_id"], entry["level"]) == ("boom here", 7, "error")
    assert "ValueError: bad" in entry["exception"]
