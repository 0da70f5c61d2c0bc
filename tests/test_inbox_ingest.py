"""Inbound mail is stored raw before anything else, once per Message-ID, and matched to its
lead and touch; what matches nothing or cannot be parsed goes to the review queue."""

from __future__ import annotations

import io
import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.cli_support import make_invoke, reset_cli_runtime
from worker.inbound import matching
from worker.inbound.ingest import ingest
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.store.models import Event, InboundMessage, ReviewItem, Touch

ADA = "ada@northwind.test"


def _reply(to_touch: Touch | None, sender: str, body: str = "Sounds good, let's talk.") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Someone <{sender}>"
    msg["To"] = "ada.fischer@northwind-analytics.example"
    msg["Subject"] = "Re: hello"
    msg["Message-ID"] = f"<reply-{sender}-{to_touch.id if to_touch else 0}@client.test>"
    if to_touch is not None:
        msg["In-Reply-To"] = to_touch.message_id
        msg["References"] = to_touch.message_id
    msg.set_content(body)
    return msg.as_bytes()


def _sent_touch(runtime, project: Path) -> Touch:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    run_batch(runtime)
    with runtime.sessions() as session:
        return session.scalars(
            select(Touch).where(Touch.status == "sent").order_by(Touch.id)
        ).first()


def _inbound(runtime) -> list[InboundMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_a_reply_is_matched_to_its_touch_and_stored_once(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent_touch(runtime, project)
    folder = tmp_path / "replies"
    folder.mkdir()
    (folder / "reply.eml").write_bytes(_reply(touch, "someone-else@elsewhere.test"))

    first = ingest(runtime, str(folder))
    again = ingest(runtime, str(folder))

    assert (first.stored, first.duplicates, dict(first.statuses)) == (1, 0, {"positive": 1})
    assert (again.stored, again.duplicates) == (0, 1)
    [stored] = _inbound(runtime)
    assert stored.touch_id == touch.id
    assert stored.lead_id == touch.lead_id
    assert stored.matched_by == "message_id"
    assert stored.raw == (folder / "reply.eml").read_bytes()
    with runtime.sessions() as session:
        kinds = session.scalars(select(Event.kind).where(Event.lead_id == touch.lead_id)).all()
    assert "reply_received" in kinds


def test_a_message_from_a_known_lead_without_threading_is_matched_by_sender(
    runtime, project: Path, tmp_path: Path
) -> None:
    _sent_touch(runtime, project)
    path = tmp_path / "fresh.eml"
    path.write_bytes(_reply(None, ADA))
    report = ingest(runtime, str(path))
    assert dict(report.statuses) == {"positive": 1}
    assert _inbound(runtime)[0].matched_by == "sender"


def test_maildir_and_mbox_sources_deliver_every_message(
    runtime, project: Path, tmp_path: Path
) -> None:
    _sent_touch(runtime, project)
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for n in range(3):
        maildir.add(_reply(None, f"unknown{n}@nowhere.test"))
    box = mailbox.mbox(str(tmp_path / "archive.mbox"), create=True)
    for n in range(2):
        box.add(_reply(None, f"other{n}@nowhere.test"))
    box.flush()

    from_maildir = ingest(runtime, str(tmp_path / "Maildir"))
    from_mbox = ingest(runtime, str(tmp_path / "archive.mbox"))

    assert from_maildir.stored == 3
    assert from_mbox.stored == 2
    assert dict(from_maildir.statuses) == {"unmatched": 3}


def test_a_maildir_is_not_read_again_only_its_new_mail(
    runtime, project: Path, tmp_path: Path
) -> None:
    _sent_touch(runtime, project)
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    keys = [maildir.add(_reply(None, f"unknown{n}@nowhere.test")) for n in range(3)]

    first = ingest(runtime, str(tmp_path / "Maildir"))
    # The client marks one message read (new/ → cur/ with flags): same key, not new mail.
    message = maildir.get_message(keys[0])
    message.set_subdir("cur")
    message.add_flag("S")
    maildir[keys[0]] = message
    maildir.add(_reply(None, "late@nowhere.test"))
    second = ingest(runtime, str(tmp_path / "Maildir"))
    third = ingest(runtime, str(tmp_path / "Maildir"))

    assert (first.read, first.stored) == (3, 3)
    assert (second.read, second.stored, second.duplicates) == (1, 1, 0)
    assert (third.read, third.stored) == (0, 0)
    assert len(_inbound(runtime)) == 4


def test_unmatched_and_unparseable_messages_go_to_the_review_queue(
    runtime, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sent_touch(runtime, project)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a-stranger.eml").write_bytes(_reply(None, "stranger@nowhere.test"))
    (tmp_path / "in" / "b-garbage.eml").write_bytes(b"\x00\x01 not a message at all\n")
    big = _reply(None, ADA, body="x" * 5000)
    (tmp_path / "in" / "c-huge.eml").write_bytes(big)
    monkeypatch.setattr(matching, "MAX_PARSE_BYTES", 4000)

    report = ingest(runtime, str(tmp_path / "in"))

    assert report.stored == 3
    assert dict(report.statuses) == {"unmatched": 1, "unparseable": 2}
    with runtime.sessions() as session:
        reasons = sorted(
            r.reason
            for r in session.scalars(select(ReviewItem).where(ReviewItem.inbound_id.is_not(None)))
        )
    assert reasons == ["inbound_unmatched", "inbound_unparseable", "inbound_unparseable"]
    assert all(m.raw for m in _inbound(runtime))  # nothing lost: every message kept raw


def test_a_bounce_is_matched_through_the_original_message_inside_the_report(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent_touch(runtime, project)
    report = (
        "From: MAILER-DAEMON@mx.example.test\r\n"
        "To: ada.fischer@northwind-analytics.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver it.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.test\r\n\r\n"
        "Final-Recipient: rfc822; gone@nowhere.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: ada.fischer@northwind-analytics.example\r\nMessage-ID: {touch.message_id}\r\n"
        "Subject: hello\r\n\r\n--b1--\r\n"
    ).encode()
    (tmp_path / "bounce.eml").write_bytes(report)

    result = ingest(runtime, str(tmp_path / "bounce.eml"))

    assert dict(result.statuses) == {"bounce_hard": 1}
    assert _inbound(runtime)[0].touch_id == touch.id


def test_one_message_on_standard_input(project: Path, sqlite_url: str) -> None:
    invoke = make_invoke(project, sqlite_url)
    try:
        import_result = invoke("leads", "import", str(project / "examples" / "leads.csv"))
        assert import_result.exit_code == 0
        from click.testing import CliRunner

        from worker.cli import main

        result = CliRunner().invoke(
            main,
            ["inbox", "ingest", "-", "--json"],
            input=io.BytesIO(_reply(None, ADA)).read(),
            env={"DATABASE_URL": sqlite_url, "OUTREACH_HOME": str(project), "REDIS_URL": None},
        )
    finally:
        reset_cli_runtime()
    assert result.exit_code == 0, result.output
    assert '"stored": 1' in result.output
    assert '"positive": 1' in result.output
