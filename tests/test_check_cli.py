"""``outreach check``: one line per part, exit 1 when anything is unreachable."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.cli_support import reset_cli_runtime
from tests.conftest import free_port
from tests.imap_support import ImapAccount
from worker.cli import main


def _check(project: Path, env: dict[str, str | None], *args: str):
    try:
        return CliRunner().invoke(main, ["--home", str(project), "check", *args], env=env)
    finally:
        reset_cli_runtime()


def test_everything_reachable_passes(project: Path, sqlite_url: str, smtp_sink) -> None:
    env = {"DATABASE_URL": sqlite_url, "OUTREACH_TRANSPORT_URL": smtp_sink.url, "REDIS_URL": None}
    result = _check(project, env, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    parts = {row["part"]: row for row in rows if not row["warning"]}
    assert set(parts) == {
        "database",
        "broker",
        "sequences",
        "mailboxes",
        "transport[sales]",
        "transport[success]",
    }
    assert all(row["ok"] for row in rows)
    assert f"127.0.0.1:{smtp_sink.port}" in parts["transport[sales]"]["detail"]


def test_what_will_hurt_is_a_warning_that_does_not_fail_the_check(
    project: Path, sqlite_url: str, smtp_sink, tmp_path: Path
) -> None:
    """No inbox for a mailbox that sends sequences (replies never stop one), the default
    public URL (every unsubscribe link broken), no secret key in the environment."""
    env = {"DATABASE_URL": sqlite_url, "OUTREACH_TRANSPORT_URL": smtp_sink.url, "REDIS_URL": None}
    result = _check(project, env)
    assert result.exit_code == 0, result.output
    warned = [line.split()[1] for line in result.output.splitlines() if line.startswith("warn")]
    assert warned == ["inbox[sales]", "inbox[success]", "public", "secret"], result.output
    assert "OUTREACH_PUBLIC_URL is http://127.0.0.1:8000" in result.output

    inbox = tmp_path / "maildir"
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True)
    settled = {
        **env,
        "OUTREACH_INBOX_URL": str(inbox),
        "OUTREACH_PUBLIC_URL": "http://outreach.example.com",
        "OUTREACH_SECRET_KEY": "from-the-environment",
    }
    result = _check(project, settled, "--json")
    warnings = [row for row in json.loads(result.output) if row["warning"]]
    assert [row["part"] for row in warnings] == ["public url"]  # plain http is still a warning
    assert "not https" in warnings[0]["detail"]


def test_an_unreachable_smtp_server_and_redis_fail_the_check(
    project: Path, sqlite_url: str
) -> None:
    env = {
        "DATABASE_URL": sqlite_url,
        "OUTREACH_TRANSPORT_URL": f"smtp://ada:pw-never-shown@127.0.0.1:{free_port()}",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    result = _check(project, env)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("FAIL  broker") for line in lines)
    assert any(line.startswith("FAIL  transport[sales]") for line in lines)
    assert any(line.startswith("ok    database") for line in lines)
    assert "pw-never-shown" not in result.output


def test_an_unreachable_database_fails_the_check(project: Path) -> None:
    env = {
        "DATABASE_URL": f"postgresql://nobody:pw@127.0.0.1:{free_port()}/x",
        "OUTREACH_TRANSPORT_URL": "console:",
        "REDIS_URL": None,
    }
    result = _check(project, env)
    assert result.exit_code == 1
    assert result.output.startswith("FAIL  database")
    assert ":pw@" not in result.output


def test_inboxes_are_checked_with_a_real_imap_login(
    project: Path, sqlite_url: str, imap: ImapAccount, tmp_path: Path
) -> None:
    (project / "mailboxes.yaml").write_text(
        (project / "mailboxes.yaml")
        .read_text(encoding="utf-8")
        .replace(
            '    phone: "+49 30 5550 1240"',
            '    phone: "+49 30 5550 1240"\n    inbox_env: SUCCESS_INBOX',
        ),
        encoding="utf-8",
    )
    env = {
        "DATABASE_URL": sqlite_url,
        "OUTREACH_TRANSPORT_URL": "console:",
        "REDIS_URL": None,
        "OUTREACH_INBOX_URL": imap.url("INBOX"),
        "SUCCESS_INBOX": str(tmp_path / "no-such-maildir"),
    }
    result = _check(project, env, "--json")
    parts = {row["part"]: row for row in json.loads(result.output)}
    assert parts["inbox[default]"]["ok"], parts
    assert "0 message(s) in INBOX" in parts["inbox[default]"]["detail"]
    assert not parts["inbox[success]"]["ok"]
    assert "no-such-maildir" in parts["inbox[success]"]["detail"]
    assert result.exit_code == 1

    env["OUTREACH_INBOX_URL"] = imap.url("INBOX", password="wrong-secret")
    env.pop("SUCCESS_INBOX")
    result = _check(project, env)
    lines = result.output.splitlines()
    assert any(
        line.startswith("FAIL  inbox[default]") and "login refused" in line for line in lines
    )
    assert any(
        line.startswith("FAIL  inbox[success]") and "SUCCESS_INBOX" in line for line in lines
    )
    assert "wrong-secret" not in result.output


def test_the_capture_sequence_must_exist(project: Path, sqlite_url: str) -> None:
    base = {"DATABASE_URL": sqlite_url, "REDIS_URL": None}
    wrong = _check(project, {**base, "OUTREACH_CAPTURE_SEQUENCE": "prospectin"}, "--json")
    assert wrong.exit_code == 1
    parts = {row["part"]: row for row in json.loads(wrong.output)}
    assert not parts["capture"]["ok"]
    assert "'prospectin' is not a sequence" in parts["capture"]["detail"]
    right = _check(project, {**base, "OUTREACH_CAPTURE_SEQUENCE": "prospecting"}, "--json")
    parts = {row["part"]: row for row in json.loads(right.output)}
    assert parts["capture"] == {
        "part": "capture",
        "ok": True,
        "warning": False,
        "detail": "form only (no API key), enrolling into 'prospecting'",
    }
