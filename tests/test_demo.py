"""``outreach demo``: the real engine over simulated weeks on the embedded default."""

from __future__ import annotations

from pathlib import Path

from tests.cli_support import reset_cli_runtime
from worker.demo import run_demo
from worker.settings import Settings


def test_the_demo_sends_every_touch_of_the_simulated_weeks_into_the_outbox(project: Path) -> None:
    settings = Settings.from_env({}, home=project)
    try:
        result = run_demo(settings, folder=project / "demo", weeks=2)
    finally:
        reset_cli_runtime()

    files = list(result.outbox.glob("*.eml"))
    assert result.imported.created == 25
    assert result.imported.enrollment.enrolled == 25
    assert result.sent == len(files)
    assert result.sent >= 25 * 2  # at least two touches each within two weeks
    assert sum(result.stages.values()) == 25
    assert sum(result.statuses.values()) == 25
    # a soft-bounced touch goes out a second time: counted each day it was sent
    sent_daily = sum(day.summary.totals().get("sent", 0) for day in result.days)
    assert sent_daily == result.sent + result.resent


def test_the_demo_command_prints_what_happened(project: Path) -> None:
    from click.testing import CliRunner

    from worker.cli import main

    try:
        outcome = CliRunner().invoke(
            main, ["--home", str(project), "demo", "--weeks", "1"], env={"REDIS_URL": None}
        )
    finally:
        reset_cli_runtime()

    assert outcome.exit_code == 0, outcome.output
    assert "25 sent" in outcome.output
    assert "emails sent" in outcome.output
    assert "Inspect:" in outcome.output
