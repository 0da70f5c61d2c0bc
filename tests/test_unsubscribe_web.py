"""One-click unsubscribe (RFC 8058) and the confirm page over real HTTP, and the mailto
unsubscribe by token through inbound processing."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from tests.cli_support import make_invoke, reset_cli_runtime
from worker.delivery.rendering import mailto_unsubscribe_subject
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.store.models import Enrollment, Event, Lead, Suppression
from worker.store.tokens import lead_token
from worker.web import MAX_BODY_BYTES, create_app, make_server, stop_server

ADA = "ada@northwind.test"
ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def request(url: str, data: bytes | None = None, *, method: str | None = None) -> Reply:
    """One HTTP request without cookies, as a mail provider sends it."""
    headers = {"Content-Type": FORM} if data is not None else {}
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return Reply(response.status, dict(response.headers), response.read().decode())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read().decode())


@pytest.fixture
def web(runtime) -> Iterator[str]:
    """The real app served by waitress on a free loopback port; yields its base URL."""
    server = make_server(create_app(runtime), "127.0.0.1", 0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop_server(server)
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()
    assert not thread.is_alive()


@pytest.fixture
def leads(runtime, project: Path) -> dict[str, int]:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    with runtime.sessions() as session:
        return {row.email: row.id for row in session.execute(select(Lead.email, Lead.id))}


def link(web: str, runtime, lead_id: int) -> str:
    return f"{web}/u/{lead_token(runtime.secret, lead_id)}"


def state(runtime, email: str = ADA) -> tuple[str, list[str], list[str], list[tuple[str, str]]]:
    """The lead's status, its enrollments' statuses, its suppressions and unsubscribe events."""
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
        enrollments = session.scalars(
            select(Enrollment.status).where(Enrollment.lead_id == lead.id)
        ).all()
        suppressed = session.scalars(
            select(Suppression.reason).where(Suppression.value == email)
        ).all()
        events = session.execute(
            select(Event.kind, Event.cause).where(
                Event.lead_id == lead.id, Event.kind == "unsubscribed"
            )
        ).all()
        return lead.status, list(enrollments), list(suppressed), [tuple(e) for e in events]


UNTOUCHED = ("active", ["active"], [], [])


def test_the_confirm_page_names_the_masked_address_and_changes_nothing(
    runtime, web: str, leads: dict[str, int]
) -> None:
    page = request(link(web, runtime, leads[ADA]))

    assert page.status == 200
    assert "a***@northwind.test" in page.body
    assert ADA not in page.body
    assert '<form method="post"' in page.body
    assert "<button" in page.body
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in page.headers
    assert state(runtime) == UNTOUCHED


def test_a_one_click_post_unsubscribes_and_the_next_batch_skips_only_that_lead(
    runtime, project: Path, web: str, leads: dict[str, int]
) -> None:
    done = request(link(web, runtime, leads[ADA]), ONE_CLICK)

    assert done.status == 200
    assert "You are unsubscribed" in done.body
    assert "Set-Cookie" not in done.headers
    assert state(runtime) == (
        "unsubscribed",
        ["stopped"],
        ["unsubscribe"],
        [("unsubscribed", "one-click")],
    )

    assert run_batch(runtime).totals() == {"sent": len(leads) - 1}
    recipients = [
        message_from_bytes(p.read_bytes(), policy=default)["To"].addresses[0].addr_spec
        for p in (project / "outbox").glob("*.eml")
    ]
    assert len(recipients) == len(leads) - 1
    assert ADA not in recipients


def test_posting_again_is_idempotent_and_the_confirm_form_counts_as_web(
    runtime, web: str, leads: dict[str, int]
) -> None:
    url = link(web, runtime, leads[ADA])
    first = request(url, b"confirm=yes")
    second = request(url, ONE_CLICK)
    page = request(url)

    assert (first.status, second.status, page.status) == (200, 200, 200)
    assert "already unsubscribed" in second.body
    assert "already unsubscribed" in page.body
    assert state(runtime) == (
        "unsubscribed",
        ["stopped"],
        ["unsubscribe"],
        [("unsubscribed", "web")],
    )


def test_an_already_suppressed_lead_clicking_again_changes_nothing_more(
    runtime, web: str, leads: dict[str, int]
) -> None:
    url = link(web, runtime, leads[ADA])
    request(url, ONE_CLICK)
    with runtime.sessions() as session:
        before = session.scalar(select(func.count(Event.id)))
    request(url, ONE_CLICK)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Event.id))) == before


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),  # signature altered
        lambda token: f"{int(token.split('.')[0]) + 1}.{token.split('.')[1]}",  # another lead
        lambda token: token.split(".")[0],  # no signature
        lambda token: "9" * 5000 + "." + "a" * 32,  # absurd id
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_token_is_a_404_and_changes_nothing(
    runtime, web: str, leads: dict[str, int], tamper
) -> None:
    token = lead_token(runtime.secret, leads[ADA])
    url = f"{web}/u/{tamper(token)}"

    shown = request(url)
    posted = request(url, ONE_CLICK)

    assert (shown.status, posted.status) == (404, 404)
    assert "This link is not valid" in posted.body
    assert "Traceback" not in posted.body
    assert state(runtime) == UNTOUCHED
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Suppression.id))) == 0


def test_a_valid_token_of_a_deleted_lead_is_a_404(runtime, web: str) -> None:
    assert request(link(web, runtime, 424242), ONE_CLICK).status == 404


def test_an_oversized_body_is_refused_with_413_and_changes_nothing(
    runtime, web: str, leads: dict[str, int]
) -> None:
    body = ONE_CLICK + b"&padding=" + b"x" * (2 * MAX_BODY_BYTES)

    refused = request(link(web, runtime, leads[ADA]), body)

    assert refused.status == 413
    assert "Traceback" not in refused.body
    assert state(runtime) == UNTOUCHED


def test_healthz_answers_ok(web: str) -> None:
    reply = request(f"{web}/healthz")
    assert (reply.status, reply.body) == (200, "ok")


def test_unknown_pages_and_methods_get_plain_error_pages(
    runtime, web: str, leads: dict[str, int]
) -> None:
    missing = request(f"{web}/nothing-here")
    wrong = request(link(web, runtime, leads[ADA]), b"", method="PUT")

    assert missing.status == 404
    assert wrong.status == 405
    assert "POST" in wrong.headers["Allow"]
    for reply in (missing, wrong):
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert "Traceback" not in reply.body
    assert state(runtime) == UNTOUCHED


# --- the mailto unsubscribe ---------------------------------------------------------------


def test_every_email_carries_the_mailto_unsubscribe_with_the_token(
    runtime, project: Path, leads: dict[str, int]
) -> None:
    run_batch(runtime)
    token = lead_token(runtime.secret, leads[ADA])
    [message] = [
        m
        for m in (
            message_from_bytes(p.read_bytes(), policy=default)
            for p in (project / "outbox").glob("*.eml")
        )
        if m["To"].addresses[0].addr_spec == ADA
    ]

    assert message["List-Unsubscribe"] == (
        f"<http://127.0.0.1:8000/u/{token}>, "
        f"<mailto:ada.fischer@northwind-analytics.example?subject=unsubscribe%20{token}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_mailto_subject_falls_back_to_a_plain_unsubscribe_without_a_token() -> None:
    assert mailto_unsubscribe_subject("https://x.example.test/u/7.ab") == "unsubscribe%207.ab"
    assert mailto_unsubscribe_subject("https://x.example.test/other") == "unsubscribe"


def _mailto(sender: str, subject: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "ada.fischer@northwind-analytics.example"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content("This message was automatically generated by the mail client.")
    return msg.as_bytes()


@pytest.fixture
def cli(project: Path, database_url: str) -> Iterator:
    yield make_invoke(project, database_url)
    reset_cli_runtime()


def _lead_json(cli, email: str = ADA) -> dict:
    shown = cli("leads", "show", email, "--json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)


def test_a_mailto_unsubscribe_with_the_token_works_from_another_address(
    cli, project: Path, tmp_path: Path, database_url: str
) -> None:
    assert cli("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
    token = lead_token(b"test-secret", _id_of(database_url, ADA))
    path = tmp_path / "unsubscribe.eml"
    path.write_bytes(
        _mailto(
            "Ada at home <ada.private@mail.example.test>", f"unsubscribe {token}", "<m1@x.test>"
        )
    )

    ingested = cli("inbox", "ingest", str(path), "--json")

    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.stdout)["unsubscribe"] == 1
    lead = _lead_json(cli)
    assert lead["status"] == "unsubscribed"
    kinds = {(e["kind"], e["cause"]) for e in lead["timeline"]}
    assert ("unsubscribed", "mailto") in kinds
    assert ("reply_received", "unsubscribe_token") in kinds
    [classified] = [e for e in lead["timeline"] if e["kind"] == "classified"]
    assert classified["cause"] == "unsubscribe"
    assert classified["detail"]["confidence"] == 1.0
    listed = cli("suppressions", "list", "--json")
    assert '"value": "ada@northwind.test"' in listed.stdout
    assert '"value": "ada.private@mail.example.test"' not in listed.stdout


def test_a_mailto_with_a_forged_token_or_none_from_a_stranger_unsubscribes_nobody(
    cli, project: Path, tmp_path: Path, database_url: str
) -> None:
    assert cli("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
    forged = lead_token(b"another-secret", _id_of(database_url, ADA))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "forged.eml").write_bytes(
        _mailto("x@stranger.example.test", f"unsubscribe {forged}", "<m2@x.test>")
    )
    (tmp_path / "in" / "plain.eml").write_bytes(
        _mailto("y@stranger.example.test", "unsubscribe", "<m3@x.test>")
    )

    ingested = cli("inbox", "ingest", str(tmp_path / "in"), "--json")

    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.stdout)["unmatched"] == 2
    assert _lead_json(cli)["status"] == "active"
    assert cli("suppressions", "list", "--json").stdout.strip() == "[]"


def _id_of(database_url: str, email: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(Lead.id).where(Lead.email == email)))
    finally:
        engine.dispose()


# --- the command ----------------------------------------------------------------------------


def test_outreach_web_serves_the_app(project: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    env = {
        **os.environ,
        "OUTREACH_HOME": str(project),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
        "OUTREACH_SECRET_KEY": "test-secret",
    }
    env.pop("REDIS_URL", None)
    outreach = Path(sys.executable).with_name("outreach")
    command = [str(outreach), "web", "--port", str(port)]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as process:
        try:
            ready = ""
            for _ in range(5):  # log lines (a new database's migration) may come first
                ready = process.stderr.readline()  # printed once the socket listens
                if "serving on" in ready:
                    break
            assert f"serving on http://127.0.0.1:{port}" in ready
            assert "http://127.0.0.1:8000/u/" in ready
            health = request(f"http://127.0.0.1:{port}/healthz")
            missing = request(f"http://127.0.0.1:{port}/u/1.{'0' * 32}")
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert (health.status, health.body) == (200, "ok")
    assert missing.status == 404


def test_outreach_web_on_a_busy_port_is_one_clear_line(project: Path, tmp_path: Path) -> None:
    import socket

    cli = make_invoke(project, f"sqlite:///{tmp_path / 'busy.db'}")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        try:
            result = cli("web", "--port", str(busy.getsockname()[1]))
        finally:
            reset_cli_runtime()
    assert result.exit_code == 1
    assert "cannot listen on 127.0.0.1:" in result.output
    assert "Traceback" not in result.output
