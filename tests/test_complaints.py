"""Spam complaints (ARF feedback reports, RFC 5965) suppress the address, unsubscribe the lead
and count against the sending mailbox, which pauses above the complaint rate. Reports are
built like the feedback loops of large providers send them: the original message attached
whole, or only its headers, with the recipient given or redacted. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_mailbox_limits import addresses, all_touches, import_emails, outbox, runtime_builder

from worker.analytics.report import build_report
from worker.clock import VirtualClock
from worker.inbound.ingest import ingest
from worker.mailboxes.pauses import check_mailboxes
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Event, Lead, MailboxPause, Suppression, Touch
from worker.understanding import classify_message

REPORTER = "Mail Feedback Loop 2.0 (fbl.mail.example)"
ORIGINAL = (
    b"From: Ada Fischer <ada.fischer@northwind-analytics.example>\r\n"
    b"To: x@example.test\r\nMessage-ID: <m1@northwind-analytics.example>\r\n"
    b"Subject: pipeline hygiene\r\n\r\nHello\r\n"
)


@pytest.fixture
def build(tmp_path: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[Any]:
    with runtime_builder(tmp_path, clock) as make:
        yield make


def arf(
    original: bytes,
    *,
    recipient: str | None,
    feedback_type: str = "abuse",
    headers_only: bool = False,
) -> bytes:
    """An ARF report about ``original``, laid out as feedback loops send them."""
    fields = [
        f"Feedback-Type: {feedback_type}",
        f"User-Agent: {REPORTER}",
        "Version: 1",
        "Original-Mail-From: <ada.fischer@northwind-analytics.example>",
        *([f"Original-Rcpt-To: <{recipient}>"] if recipient else []),
        "Arrival-Date: Tue, 05 Jan 2027 09:59:10 +0000",
        "Source-IP: 192.0.2.25",
        "Reported-Domain: northwind-analytics.example",
    ]
    if headers_only:
        attached = (
            b"Content-Type: text/rfc822-headers\r\n\r\n"
            + original.split(b"\r\n\r\n", 1)[0]
            + b"\r\n"
        )
    else:
        attached = b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + original
    head = (
        "From: Feedback Loop <fbl@fbl.mail.example>\r\n"
        "To: abuse-reports@northwind-analytics.example\r\n"
        "Subject: Complaint about message from 192.0.2.25\r\n"
        f"Message-ID: <fbl-{abs(hash(original))}@fbl.mail.example>\r\n"
        "Date: Tue, 05 Jan 2027 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="fbl"\r\n'
        "\r\n"
        "--fbl\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is an email abuse report for an email message received from IP 192.0.2.25.\r\n"
        "--fbl\r\n"
        "Content-Type: message/feedback-report\r\n\r\n"
    )
    return (
        head.encode()
        + ("\r\n".join(fields) + "\r\n").encode()
        + b"--fbl\r\n"
        + attached
        + b"\r\n--fbl--\r\n"
    )


def _sent(runtime: Runtime, count: int) -> list[bytes]:
    import_emails(runtime, addresses(count))
    assert run_batch(runtime).totals() == {"sent": count}
    return [path.read_bytes() for path in sorted(outbox(runtime))]


def _ingest(runtime: Runtime, tmp: Any, data: bytes, name: str) -> dict[str, int]:
    path = tmp / f"{name}.eml"
    path.write_bytes(data)
    return ingest(runtime, str(path)).as_dict()


def test_a_feedback_report_reads_as_a_complaint_and_not_spam_does_not() -> None:
    from email import message_from_bytes
    from email.policy import default

    report = arf(ORIGINAL, recipient="x@example.test")
    found = classify_message(message_from_bytes(report, policy=default))
    assert found.intent == "complaint"
    assert found.confidence >= 0.95
    assert found.bounced_recipients == ("x@example.test",)
    assert any("Feedback-Type: abuse" in reason and REPORTER in reason for reason in found.reasons)

    relieved = arf(ORIGINAL, recipient="x@example.test", feedback_type="not-spam")
    assert classify_message(message_from_bytes(relieved, policy=default)).intent == "auto_reply"


def test_a_complaint_suppresses_unsubscribes_and_counts_against_the_mailbox(
    build: Any, database_url: str, clock: VirtualClock, tmp_path: Any
) -> None:
    runtime = build(database_url, settings={"mailbox_min_sample": 20})
    sent = _sent(runtime, 400)  # 1 complaint in 400 sends: 0.25 %, under Gmail's 0.3 %
    touches = all_touches(runtime)
    clock.advance(timedelta(hours=3))

    statuses = _ingest(runtime, tmp_path, arf(sent[0], recipient=None, headers_only=True), "c1")

    assert statuses.get("complaint") == 1, statuses
    first = touches[0]
    with runtime.sessions() as session:
        lead = session.get(Lead, first.lead_id)
        assert lead is not None
        assert lead.status == "unsubscribed"
        suppressed = session.scalars(
            select(Suppression.reason).where(Suppression.value == lead.email)
        ).all()
        assert suppressed == ["complaint"]
        kinds = session.scalars(
            select(Event.cause).where(
                Event.lead_id == lead.id, Event.kind.in_(("classified", "suppressed"))
            )
        ).all()
        assert set(kinds) == {"complaint"}
    assert check_mailboxes(runtime) == []  # 0.25 %: not above 0.3 %

    # A second complaint (the original attached whole, the recipient named): 0.5 %.
    second = touches[1]
    with runtime.sessions() as session:
        email = session.scalar(select(Lead.email).where(Lead.id == second.lead_id))
    _ingest(runtime, tmp_path, arf(sent[1], recipient=email), "c2")
    assert check_mailboxes(runtime) == ["sales"]
    with runtime.sessions() as session:
        pause = session.get(MailboxPause, "sales")
    assert pause is not None
    assert "2 spam complaints for 400 sent in 7 days (0.5%, above 0.3%)" in pause.reason
    with runtime.sessions() as session:
        [row] = build_report(session)["mailboxes"]
    assert (row["mailbox"], row["sent"], row["complained"]) == ("sales", 400, 2)
    assert row["complaint_rate"] == 2 / 400
    assert row["reply_rate"] == 0.0  # a complaint is no reply


def test_a_redacted_report_is_matched_by_its_recipient_field(
    build: Any, database_url: str, clock: VirtualClock, tmp_path: Any
) -> None:
    runtime = build(database_url)
    sent = _sent(runtime, 3)
    with runtime.sessions() as session:
        touch = session.scalars(select(Touch).order_by(Touch.id)).first()
        assert touch is not None
        email = session.scalar(select(Lead.email).where(Lead.id == touch.lead_id))
    # The provider removed the original's Message-ID and To; only Original-Rcpt-To is left.
    stripped = b"\r\n".join(
        line
        for line in sent[0].split(b"\r\n")
        if not line.lower().startswith((b"message-id:", b"to:"))
    )
    assert _ingest(runtime, tmp_path, arf(stripped, recipient=email), "c3").get("complaint") == 1
    with runtime.sessions() as session:
        assert session.scalar(select(Lead.status).where(Lead.email == email)) == "unsubscribed"
