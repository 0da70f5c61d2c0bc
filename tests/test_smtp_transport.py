"""SmtpTransport against a real SMTP server: reused connections, MIME, and what each SMTP
answer does to a touch (sent, deferred, failed, delivery unknown) across later batches."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import START, make_settings
from delivery_support import (
    MakeRuntime,
    Sink,
    free_port,
    running_sink,
    runtime_maker,
    sample_emails,
    statuses,
    touches,
)
from sqlalchemy import select

from worker.clock import VirtualClock
from worker.delivery.recording import RETRY_BACKOFF_S
from worker.errors import ConfigError, TemporaryDeliveryError
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Event, Lead, ReviewItem, Touch
from worker.transports.local import ConsoleTransport, OutboxTransport
from worker.transports.message import BuiltMessage
from worker.transports.smtp import SmtpTransport
from worker.transports.urls import transport_from_url

ADA = "ada@northwind.test"  # prospecting: step 1 is text only
WEBER = "m.weber@weber-kuehltechnik.test"  # consideration: step 1 has an HTML part


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture
def make_runtime(project: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[MakeRuntime]:
    with runtime_maker(project, clock, make_settings) as make:
        yield make


def _built(n: int, to: str = "lead@example.test") -> BuiltMessage:
    msg = EmailMessage()
    msg["From"] = "ada.fischer@northwind-analytics.example"
    msg["To"] = to
    msg["Subject"] = f"hello {n}"
    msg["Message-ID"] = f"<m{n}@northwind-analytics.example>"
    msg.set_content(f"body {n}")
    return BuiltMessage(msg.as_bytes(), msg["Message-ID"], msg["Subject"], msg["From"], to)


def _touch_of(runtime: Runtime, email: str) -> Touch:
    with runtime.sessions() as session:
        lead_id = session.scalar(select(Lead.id).where(Lead.email == email))
        found = list(session.scalars(select(Touch).where(Touch.lead_id == lead_id)))
    assert len(found) == 1, found
    return found[0]


def _lead(runtime: Runtime, email: str) -> Lead:
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
    assert lead is not None
    return lead


def _review_reasons(runtime: Runtime, email: str | None = None) -> list[str]:
    with runtime.sessions() as session:
        query = select(ReviewItem.reason).join(Lead, Lead.id == ReviewItem.lead_id)
        if email is not None:
            query = query.where(Lead.email == email)
        return list(session.scalars(query))


# --- connections and MIME ----------------------------------------------------------------


def test_one_connection_per_thread_is_reused_for_many_messages(sink: Sink) -> None:
    transport = SmtpTransport(sink.host, sink.port, timeout_s=10)
    try:
        for n in range(10):
            transport.send(_built(n), n)
        assert sink.connections == 1
        other = threading.Thread(target=lambda: [transport.send(_built(n), n) for n in (10, 11)])
        other.start()
        other.join(timeout=20)
        assert sink.connections == 2  # a second thread gets its own connection
        transport.send(_built(12), 12)
    finally:
        transport.close()
    assert sink.connections == 2
    assert [m["Subject"] for m in sink.messages] == [f"hello {n}" for n in range(13)]


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failure() -> None:
    with running_sink(idle_timeout_s=0.2) as sink:
        transport = SmtpTransport(sink.host, sink.port, timeout_s=10)
        try:
            transport.send(_built(1), 1)
            time.sleep(0.5)  # the server hangs up the idle connection
            transport.send(_built(2), 2)  # no TemporaryDeliveryError: reconnected once
        finally:
            transport.close()
        assert [m["Subject"] for m in sink.messages] == ["hello 1", "hello 2"]
        assert sink.connections == 2


def test_a_batch_goes_out_over_one_connection_as_proper_mime(
    make_runtime: MakeRuntime, sqlite_url: str, sink: Sink, project: Path
) -> None:
    runtime = make_runtime(sqlite_url, transport_url=sink.url)

    summary = run_batch(runtime)

    assert summary.totals() == {"sent": 25}
    assert sink.connections == 1  # one send thread: one connection for the whole batch
    assert sorted(sink.recipients()) == sorted(sample_emails(project))
    html_seen = 0
    for touch in touches(runtime):
        lead = _lead(runtime, _email_of(runtime, touch.lead_id))
        msg = sink.message_to(lead.email)
        sender = runtime.mailboxes.get(touch.mailbox or "").address
        # the ledger knows the real header (long ids are folded onto a continuation line)
        assert " ".join(msg["Message-ID"].split()) == touch.message_id
        assert msg["Subject"] == touch.subject
        assert parsedate_to_datetime(msg["Date"]) == START
        assert parseaddr(msg["From"])[1] == sender
        assert parseaddr(msg["To"])[1] == lead.email
        assert msg["List-Unsubscribe"]
        template = runtime.catalog.get(touch.sequence).steps[0].template
        if (project / "templates" / f"{template}.html.j2").is_file():
            html_seen += 1
            assert msg.get_content_type() == "multipart/alternative"
            parts = [p.get_content_type() for p in msg.get_payload()]
            assert parts == ["text/plain", "text/html"]
        else:
            assert msg.get_content_type() == "text/plain"
    assert html_seen >= 10
    assert {env[0] for env in sink.envelopes} == {
        m.address for m in runtime.mailboxes.by_name.values()
    }
    weber = sink.message_to(WEBER)
    assert "<" in weber.get_payload()[1].get_payload(decode=True).decode()


def _email_of(runtime: Runtime, lead_id: int) -> str:
    with runtime.sessions() as session:
        email = session.scalar(select(Lead.email).where(Lead.id == lead_id))
    assert email is not None
    return email


# --- temporary refusals: deferred, retried, eventually given up -------------------------


def test_rcpt_4xx_defers_the_touch_and_a_later_batch_sends_it(
    make_runtime: MakeRuntime, database_url: str, sink: Sink, clock: VirtualClock
) -> None:
    runtime = make_runtime(database_url, transport_url=sink.url)
    sink.replies[ADA] = "451 4.3.0 try later"

    first = run_batch(runtime)

    assert first.totals() == {"sent": 24, "deferred": 1}
    touch = _touch_of(runtime, ADA)
    assert touch.status == "queued"
    assert touch.attempts == 1
    assert touch.available_at == START + timedelta(seconds=RETRY_BACKOFF_S[0])
    assert "451" in (touch.last_error or "")
    assert _lead(runtime, ADA).status == "active"
    assert _review_reasons(runtime) == []

    assert run_batch(runtime).enqueued == 0  # not before its backoff
    sink.replies.clear()
    clock.advance(timedelta(seconds=RETRY_BACKOFF_S[0] + 1))
    second = run_batch(runtime)

    assert second.totals() == {"sent": 1}
    touch = _touch_of(runtime, ADA)
    assert (touch.status, touch.attempts) == ("sent", 2)
    assert sink.counts()[ADA] == 1
    with runtime.sessions() as session:
        kinds = list(session.scalars(select(Event.kind).where(Event.touch_id == touch.id)))
    assert kinds.count("send_deferred") == 1
    assert kinds.count("sent") == 1


def test_temporary_failures_give_up_after_the_last_attempt_and_flag_the_lead(
    make_runtime: MakeRuntime, sqlite_url: str, sink: Sink, clock: VirtualClock
) -> None:
    runtime = make_runtime(sqlite_url, transport_url=sink.url, retry_max_attempts=3)
    sink.replies[ADA] = "451 4.3.0 try later"

    run_batch(runtime)
    for backoff in RETRY_BACKOFF_S[:2]:
        clock.advance(timedelta(seconds=backoff + 1))
        run_batch(runtime)

    touch = _touch_of(runtime, ADA)
    assert (touch.status, touch.attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in (touch.last_error or "")
    assert _lead(runtime, ADA).status == "needs_review"
    assert _review_reasons(runtime, ADA) == ["delivery_failed"]

    sink.replies.clear()
    for _ in range(3):
        clock.advance(timedelta(days=1))
        run_batch(runtime)
    assert ADA not in sink.data_seen
    assert _touch_of(runtime, ADA).attempts == 3


# --- permanent refusals: failed at once, flagged, never retried -------------------------


@pytest.mark.parametrize("refusal", ["rcpt", "data"])
def test_5xx_fails_the_touch_at_once_flags_the_lead_and_is_never_retried(
    make_runtime: MakeRuntime, database_url: str, sink: Sink, clock: VirtualClock, refusal: str
) -> None:
    # Every touch refused: without this the mailbox would pause itself after 5 (see
    # tests/test_mailbox_limits.py); here each touch's own failure is what is checked.
    runtime = make_runtime(database_url, transport_url=sink.url, mailbox_max_failures_24h=0)
    if refusal == "rcpt":
        sink.replies[ADA] = "550 5.1.1 no such user"
    else:
        sink.data_reply = "554 5.7.1 message refused"

    run_batch(runtime)

    touch = _touch_of(runtime, ADA)
    assert (touch.status, touch.attempts) == ("failed", 1)
    assert ("550" if refusal == "rcpt" else "554") in (touch.last_error or "")
    assert _lead(runtime, ADA).status == "needs_review"
    assert _review_reasons(runtime, ADA) == ["delivery_failed"]
    if refusal == "data":
        assert statuses(runtime) == {"failed": 25}

    sink.replies.clear()
    sink.data_reply = None
    for _ in range(3):
        clock.advance(timedelta(days=2))
        run_batch(runtime)
    assert sink.counts()[ADA] == 0
    assert _touch_of(runtime, ADA).attempts == 1


# --- the server cannot be reached or refuses our login: the lead is not to blame ---------


def test_connection_refused_defers_every_touch_and_fails_none(
    make_runtime: MakeRuntime, sqlite_url: str, sink: Sink, clock: VirtualClock
) -> None:
    runtime = make_runtime(sqlite_url, transport_url=f"smtp://127.0.0.1:{free_port()}")

    summary = run_batch(runtime)

    assert summary.totals() == {"deferred": 25}
    assert statuses(runtime) == {"queued": 25}
    assert all(t.attempts == 1 and t.available_at > START for t in touches(runtime))
    assert all("cannot connect" in (t.last_error or "") for t in touches(runtime))
    assert _review_reasons(runtime) == []
    assert _lead(runtime, ADA).status == "active"


def test_login_with_user_and_password_from_the_url(
    make_runtime: MakeRuntime, sqlite_url: str
) -> None:
    with running_sink(username="ada", password="s3cr3t") as sink:
        runtime = make_runtime(sqlite_url, transport_url=sink.url)
        summary = run_batch(runtime)
        runtime.close()
        assert summary.totals() == {"sent": 25}
        assert sink.logins == ["ada"]  # one login: the connection was reused
        assert len(sink.recipients()) == 25


def test_a_refused_login_defers_the_touches_instead_of_failing_the_leads(
    make_runtime: MakeRuntime, sqlite_url: str
) -> None:
    with running_sink(username="ada", password="s3cr3t") as sink:
        url = f"smtp://ada:wrong@{sink.host}:{sink.port}"
        runtime = make_runtime(sqlite_url, transport_url=url)
        summary = run_batch(runtime)
        assert summary.totals() == {"deferred": 25}
        assert all("login" in (t.last_error or "") for t in touches(runtime))
        assert "wrong" not in str([t.last_error for t in touches(runtime)])
        assert _review_reasons(runtime) == []
        assert sink.recipients() == []


def test_a_missing_mailbox_transport_url_defers_instead_of_delivery_unknown(
    make_runtime: MakeRuntime, sqlite_url: str, sink: Sink, project: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("OUTREACH_TEST_SUCCESS_SMTP", raising=False)
    mailboxes = project / "mailboxes.yaml"
    mailboxes.write_text(
        mailboxes.read_text().replace(
            "    title: Customer Success Manager\n",
            "    title: Customer Success Manager\n    transport_env: OUTREACH_TEST_SUCCESS_SMTP\n",
        )
    )
    runtime = make_runtime(sqlite_url, transport_url=sink.url)

    summary = run_batch(runtime)

    # the 'success' mailbox sends the delivery sequence (3 sample leads); nothing was handed
    # over, so those touches must not be flagged as "delivery unknown"
    assert summary.totals() == {"sent": 22, "deferred": 3}
    assert summary.unknown_open == 0
    assert _review_reasons(runtime) == []
    deferred = [t for t in touches(runtime) if t.status == "queued"]
    assert all("OUTREACH_TEST_SUCCESS_SMTP" in (t.last_error or "") for t in deferred)


def test_a_server_refusing_the_connection_with_5xx_is_temporary_not_the_leads_fault() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def greet_and_hang_up() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"554 5.7.1 no service for you\r\n")

        greeter = threading.Thread(target=greet_and_hang_up, daemon=True)
        greeter.start()
        transport = SmtpTransport("127.0.0.1", port, timeout_s=10)
        with pytest.raises(TemporaryDeliveryError, match="554"):
            transport.send(_built(1), 1)
        greeter.join(timeout=10)


# --- the connection breaks after the content was handed over ------------------------------


def test_a_connection_dropped_after_data_is_delivery_unknown_and_never_resent(
    make_runtime: MakeRuntime, database_url: str, sink: Sink, clock: VirtualClock
) -> None:
    runtime = make_runtime(database_url, transport_url=sink.url)
    sink.drop_after_data.add(ADA)

    summary = run_batch(runtime)

    assert summary.totals() == {"sent": 24, "unknown": 1}
    assert summary.unknown_open == 1
    touch = _touch_of(runtime, ADA)
    assert touch.status == "unknown"
    assert "broke while the message was being handed over" in (touch.last_error or "")
    assert _lead(runtime, ADA).status == "needs_review"
    assert _review_reasons(runtime, ADA) == ["delivery_unknown"]
    assert sink.data_seen.count(ADA) == 1

    sink.drop_after_data.clear()
    for _ in range(3):
        clock.advance(timedelta(days=3))
        run_batch(runtime)
    assert sink.data_seen.count(ADA) == 1
    assert _touch_of(runtime, ADA).status == "unknown"


# --- transport URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.test", ("mail.example.test", 25, "plain", None, None)),
        ("smtp://mail.example.test:2525", ("mail.example.test", 2525, "plain", None, None)),
        ("smtps://u:p@mail.example.test", ("mail.example.test", 465, "ssl", "u", "p")),
        (
            "smtp+starttls://ada%40corp.test:p%2Fw%3Ad%40@Mail.Example.Test",
            ("mail.example.test", 587, "starttls", "ada@corp.test", "p/w:d@"),
        ),
        ("SMTP+STARTTLS://u:p@relay.test:2587", ("relay.test", 2587, "starttls", "u", "p")),
    ],
)
def test_smtp_urls(url: str, expected: tuple[Any, ...]) -> None:
    transport = transport_from_url(url)
    assert isinstance(transport, SmtpTransport)
    got = (transport.host, transport.port, transport.mode, transport.username, transport.password)
    assert got == expected
    assert transport.timeout_s == 30.0
    assert transport.verify is True


def test_smtp_url_options() -> None:
    transport = transport_from_url(
        "smtp+starttls://u:p@h.test?timeout=5&verify=no&cafile=/etc/ca.pem", timeout_s=9
    )
    assert isinstance(transport, SmtpTransport)
    assert (transport.timeout_s, transport.verify, transport.ca_file) == (5.0, False, "/etc/ca.pem")
    default = transport_from_url("smtp://h.test", timeout_s=9)
    assert isinstance(default, SmtpTransport)
    assert default.timeout_s == 9


def test_file_and_console_urls(tmp_path: Path) -> None:
    outbox = transport_from_url(f"file://{tmp_path / 'out box'}")
    assert isinstance(outbox, OutboxTransport)
    assert outbox.folder == tmp_path / "out box"
    quoted = transport_from_url(f"file://{tmp_path}/out%20box")
    assert isinstance(quoted, OutboxTransport)
    assert quoted.folder == tmp_path / "out box"
    assert isinstance(transport_from_url("console:"), ConsoleTransport)
    outbox.send(_built(3), 3)
    assert (tmp_path / "out box" / "00000003.eml").read_bytes().startswith(b"From: ")


@pytest.mark.parametrize(
    "url",
    [
        "http://ada:hunter2@mail.example.test",
        "smtp://ada:hunter2@:25",
        "smtp://ada:hunter2@mail.example.test:notaport",
        "smtp://ada:hunter2@mail.example.test:99999",
        "smtp://ada:hunter2@mail.example.test?timeout=soon",
        "imap://ada:hunter2@mail.example.test",
    ],
)
def test_bad_transport_urls_are_config_errors_that_hide_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        transport_from_url(url)
    message = str(caught.value)
    assert "OUTREACH_TRANSPORT_URL" in message
    assert "hunter2" not in message
    assert "ada:***@" in message


def test_a_file_url_without_a_folder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="names no folder"):
        transport_from_url("file://")
