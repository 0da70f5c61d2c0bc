"""``outreach mailboxes``: usage, limits, pools and pauses; pause/resume; config errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.cli_support import FIXED_NOW, reset_cli_runtime
from tests.conftest import copy_project
from tests.test_mailbox_limits import (
    RefusingTransport,
    addresses,
    all_touches,
    import_emails,
    runtime_builder,
    write_project,
)
from worker.authoring.mailboxes import load_mailboxes, parse_spacing
from worker.authoring.sequences import load_catalog
from worker.authoring.templates import TemplateRenderer
from worker.cli import main
from worker.clock import VirtualClock
from worker.delivery.rendering import render_touch
from worker.processes.batch import run_batch
from worker.store.models import MailboxPause, ReviewItem


@pytest.fixture
def build(tmp_path: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[Any]:
    with runtime_builder(tmp_path, clock) as make:
        yield make


@pytest.fixture
def cli(sqlite_url: str) -> Iterator[Any]:
    """``cli(project)`` → ``outreach ARGS`` on that project and the test's SQLite file."""

    def make(project: Path) -> Any:
        def run(*args: str) -> Result:
            env = {
                "DATABASE_URL": sqlite_url,
                "OUTREACH_HOME": str(project),
                "OUTREACH_SECRET_KEY": "test-secret",
                "OUTREACH_NOW": FIXED_NOW,
                "OUTREACH_TRANSPORT_URL": f"file://{project / 'outbox'}",
                "REDIS_URL": None,
            }
            try:
                return CliRunner().invoke(main, list(args), env=env)
            finally:
                reset_cli_runtime()

        return run

    yield make
    reset_cli_runtime()


def _rows(result: Result) -> dict[str, dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_mailboxes_shows_todays_usage_limits_spacing_pools_and_pauses(
    build: Any, sqlite_url: str, cli: Any
) -> None:
    runtime = build(
        sqlite_url, sales="daily_limit: 3\nmin_spacing: 0 seconds", success="min_spacing: 2 minutes"
    )
    import_emails(runtime, addresses(5))
    assert run_batch(runtime).totals() == {"sent": 3, "deferred": 2}
    outreach = cli(runtime.settings.home)

    rows = _rows(outreach("mailboxes", "--json"))
    assert rows["sales"] == {
        "name": "sales",
        "address": "ada@sender.example",
        "pools": ["team"],
        "owner": None,
        "pool_owners": {},
        "day": "2027-01-04",
        "sent_today": 3,
        "daily_limit": 3,
        "last_sent_at": "2027-01-04T09:00:00Z",
        "min_spacing_s": 0,
        "paused": False,
        "paused_at": None,
        "pause_reason": None,
        "transport_error": None,
    }
    assert rows["success"]["sent_today"] == 0
    assert rows["success"]["daily_limit"] is None
    assert rows["success"]["min_spacing_s"] == 120

    table = outreach("mailboxes")
    assert table.exit_code == 0, table.output
    assert "3 / 3" in table.stdout
    assert "0 / no limit" in table.stdout
    assert "120 s" in table.stdout


def test_pause_and_resume_by_hand(build: Any, sqlite_url: str, cli: Any) -> None:
    runtime = build(sqlite_url)
    import_emails(runtime, addresses(2))
    outreach = cli(runtime.settings.home)

    paused = outreach("mailboxes", "pause", "sales", "--reason", "provider warning")
    assert paused.exit_code == 0, paused.output
    assert "paused: provider warning" in paused.stdout
    again = outreach("mailboxes", "pause", "sales")
    assert "already paused: provider warning" in again.stdout
    row = _rows(outreach("mailboxes", "list", "--json"))["sales"]
    assert row["paused"] is True
    assert row["pause_reason"] == "provider warning"
    assert "paused since 2027-01-04T09:00:00Z: provider warning" in outreach("mailboxes").stdout

    assert run_batch(runtime).totals() == {"deferred": 2}  # nothing goes out while paused
    resumed = outreach("mailboxes", "resume", "sales", "--note", "provider says ok")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed; 2 postponed touch(es)" in resumed.stdout
    assert "is not paused" in outreach("mailboxes", "resume", "sales").stdout
    assert run_batch(runtime).totals() == {"sent": 2}


def test_an_unknown_mailbox_is_one_line_with_a_suggestion(
    build: Any, sqlite_url: str, cli: Any
) -> None:
    runtime = build(sqlite_url)
    result = cli(runtime.settings.home)("mailboxes", "pause", "sucess")
    assert result.exit_code == 1
    assert "No mailbox named 'sucess'" in result.stderr
    assert "did you mean 'success'?" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_auto_paused_mailbox_is_resumed_from_the_command_line(
    build: Any, sqlite_url: str, cli: Any, clock: VirtualClock
) -> None:
    runtime = build(sqlite_url, settings={"send_threads": 1})
    runtime.transport_override = RefusingTransport()
    import_emails(runtime, addresses(7))
    assert run_batch(runtime).totals() == {"failed": 5, "deferred": 2}
    outreach = cli(runtime.settings.home)
    row = _rows(outreach("mailboxes", "--json"))["sales"]
    assert row["paused"] is True
    assert "failed for good" in row["pause_reason"]
    review = outreach("review", "list", "--json")
    assert any(item["reason"] == "mailbox_paused" for item in json.loads(review.stdout))

    result = outreach("mailboxes", "resume", "sales")
    assert result.exit_code == 0, result.output
    with runtime.sessions() as session:
        item = session.scalars(
            select(ReviewItem).where(ReviewItem.reason == "mailbox_paused")
        ).one()
        pause = session.get(MailboxPause, "sales")
    assert item.resolved_at is not None
    assert pause is not None
    assert pause.resumed_at is not None
    runtime.transport_override = None
    clock.advance(timedelta(seconds=1))  # the CLI resumed at the frozen START
    assert run_batch(runtime).totals() == {"sent": 2}
    assert {t.status for t in all_touches(runtime)} == {"failed", "sent"}


def test_a_mailbox_without_its_transport_secret_is_named_by_mailboxes_and_check(
    build: Any, sqlite_url: str, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTREACH_SMTP_SUCCESS_TEST", raising=False)
    runtime = build(sqlite_url, success="transport_env: OUTREACH_SMTP_SUCCESS_TEST")
    outreach = cli(runtime.settings.home)

    listed = outreach("mailboxes")
    assert listed.exit_code == 0, listed.output
    assert (
        "error: Mailbox 'success' reads its transport URL from $OUTREACH_SMTP_SUCCESS_TEST, "
        "which is not set" in listed.stderr
    )
    assert "no transport" in listed.stdout
    row = _rows(outreach("mailboxes", "--json"))["success"]
    assert "$OUTREACH_SMTP_SUCCESS_TEST" in row["transport_error"]

    checked = outreach("check")
    assert checked.exit_code == 1
    [line] = [x for x in checked.stdout.splitlines() if x.startswith("FAIL  transport[success]")]
    assert "Mailbox 'success'" in line
    assert "OUTREACH_SMTP_SUCCESS_TEST" in line


# --- mailboxes.yaml -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "success", "needle", "message"),
    [
        ("  team2: [sales, sucess]", "", "team2", "pool 'team2' names unknown mailbox 'sucess'"),
        ("  sales: [success]", "", "sales: [", "pool 'sales' has the name of a mailbox"),
        ("  empty: []", "", "empty", "pool 'empty' lists no mailboxes"),
        ("", "min_spacing: soon", "soon", "min_spacing 'soon' is not understood"),
        ("", "daily_limit: 0", "daily_limit", "greater than or equal to 1"),
        ("recipient_domain_daily_limit: -1", "", "recipient", "greater than or equal to 1"),
    ],
)
def test_mailbox_file_errors_name_the_line(
    tmp_path: Path, cli: Any, extra: str, success: str, needle: str, message: str
) -> None:
    project = write_project(tmp_path / "p", success=success)
    text = (project / "mailboxes.yaml").read_text()
    if extra.startswith("  "):  # one more pool under 'pools:'
        text = text.replace("  team: [sales, success]\n", f"  team: [sales, success]\n{extra}\n")
    else:
        text += extra + "\n"
    (project / "mailboxes.yaml").write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if needle in row)

    result = cli(project)("validate")
    assert result.exit_code == 1
    assert f"mailboxes.yaml:{line}: " in result.output, result.output
    assert message in result.output


def test_a_sequence_may_name_a_pool_and_an_unknown_name_gets_a_suggestion(
    tmp_path: Path, cli: Any
) -> None:
    good = write_project(tmp_path / "good", first="team")
    assert cli(good)("validate").exit_code == 0

    bad = write_project(tmp_path / "bad", first="teem")
    result = cli(bad)("validate")
    assert result.exit_code == 1
    assert (
        "sequences/first.yaml:3: mailbox 'teem' is not a mailbox or pool in mailboxes.yaml"
        " — did you mean 'team'?" in result.output
    )


def test_spacing_is_written_with_its_unit() -> None:
    assert parse_spacing("90 seconds") == 90
    assert parse_spacing("2 minutes") == 120
    assert parse_spacing("1 hour") == 3600
    assert parse_spacing("45s") == 45
    with pytest.raises(ValueError, match=r"write e\.g\. '90 seconds'"):
        parse_spacing(90)


def test_the_example_mailboxes_have_limits_and_a_pool() -> None:
    mailboxes = load_mailboxes(Path(__file__).resolve().parent.parent / "mailboxes.yaml")
    assert all(spec.daily_limit for spec in mailboxes.by_name.values())
    assert mailboxes.pools
    assert all(set(members) <= set(mailboxes.by_name) for members in mailboxes.pools.values())


# --- the signature --------------------------------------------------------------------------


def test_a_mailbox_signature_replaces_the_layouts_sign_off(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    mailboxes = load_mailboxes(project / "mailboxes.yaml")
    catalog, _ = load_catalog(project / "sequences", project)
    spec = catalog.get("prospecting")
    html_step = next(
        i
        for i, step in enumerate(spec.steps)
        if (project / "templates" / f"{step.template}.html.j2").exists()
    )
    signed = mailboxes.get("sales").model_copy(
        update={"signature": "Cheers,\nAda <Fischer>\nNorthwind & Co"}
    )
    lead = {"email": "ada@northwind.test", "first_name": "Ada", "company": "Northwind"}
    renderer = TemplateRenderer(project / "templates")
    plain = render_touch(
        renderer, lead, mailboxes.get("sales"), spec, html_step, "https://u.test/x"
    )
    rendered = render_touch(renderer, lead, signed, spec, html_step, "https://u.test/x")
    assert "Best,\nAda Fischer" in plain.text
    assert "Cheers,\nAda <Fischer>\nNorthwind & Co" in rendered.text
    assert "Best," not in rendered.text
    assert rendered.html is not None
    assert "Cheers,<br>\nAda &lt;Fischer&gt;<br>\nNorthwind &amp; Co" in rendered.html
