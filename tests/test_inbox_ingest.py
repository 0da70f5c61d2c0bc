"""Inbound mail is stored raw before anything else, once per Message-ID, and matched to its
lead and touch; what matches nothing or cannot be parsed goes to the review queue."""

from __future__ import annotations

import importlib
import io
import mailbox
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import copy_project, make_settings
from worker.clock import VirtualClock
from worker.inbound import matching
from worker.inbound.ingest import ingest
from worker.inbound.sources import _MESSAGE_ID, header_block, header_message_id
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch, stop_embedded_workers
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, InboundMessage, Lead, ReviewItem, Touch

ADA = "ada@northwind.test"
# The module (``worker.inbound.ingest`` the attribute is the function of the same name).
ingest_module = importlib.import_module("worker.inbound.ingest")


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


def _touches_of_two_leads(runtime, project: Path) -> list[Touch]:
    _sent_touch(runtime, project)
    with runtime.sessions() as session:
        sent = session.scalars(select(Touch).where(Touch.status == "sent")).all()
    return sorted(sent, key=lambda touch: touch.message_id)[:2]


def test_a_reply_naming_several_sent_emails_belongs_to_the_one_it_answers(
    runtime, project: Path, tmp_path: Path
) -> None:
    """In-Reply-To is the most specific reference: it wins over older ones in References,
    whichever the database would list first."""
    older, answered = _touches_of_two_leads(runtime, project)
    msg = EmailMessage()
    msg["From"] = "Someone <someone@elsewhere.test>"
    msg["Subject"] = "Re: hello"
    msg["Message-ID"] = "<thread@elsewhere.test>"
    msg["In-Reply-To"] = answered.message_id
    msg["References"] = f"{older.message_id} {answered.message_id}"
    msg.set_content("Sounds good, let's talk.")
    (tmp_path / "reply.eml").write_bytes(msg.as_bytes())

    ingest(runtime, str(tmp_path / "reply.eml"))

    [stored] = _inbound(runtime)
    assert (stored.touch_id, stored.lead_id) == (answered.id, answered.lead_id)


def test_a_message_whose_headers_cannot_be_read_is_kept_and_the_rest_of_its_batch_goes_on(
    runtime, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch = _sent_touch(runtime, project)
    folder = tmp_path / "in"
    folder.mkdir()
    for n, sender in enumerate(("one@elsewhere.test", "broken@elsewhere.test", ADA)):
        (folder / f"{n}.eml").write_bytes(_reply(touch if n == 0 else None, sender))
    real = matching.failed_recipients

    def unreadable(message):
        if "broken@" in str(message["From"]):
            raise ValueError("header from another planet")
        return real(message)

    monkeypatch.setattr(matching, "failed_recipients", unreadable)

    report = ingest(runtime, str(folder))

    assert (report.read, report.stored) == (3, 3)
    assert dict(report.statuses) == {"positive": 2, "unparseable": 1}
    by_sender = {m.from_address: m for m in _inbound(runtime)}
    broken = by_sender["broken@elsewhere.test"]
    assert broken.status == "unparseable"
    assert broken.raw
    assert broken.error == "ValueError: header from another planet"
    assert by_sender["one@elsewhere.test"].matched_by == "message_id"
    assert by_sender[ADA].matched_by == "sender"
    with runtime.sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.inbound_id == broken.id))
    assert item is not None
    assert item.reason == "inbound_unparseable"


def test_the_same_message_twice_in_one_folder_is_stored_once(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent_touch(runtime, project)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.eml", "b.eml"):
        (folder / name).write_bytes(_reply(touch, "someone@elsewhere.test"))

    report = ingest(runtime, str(folder))

    assert (report.read, report.stored, report.duplicates) == (2, 1, 1)
    assert dict(report.statuses) == {"positive": 1}


@pytest.mark.parametrize(
    "data",
    [
        b"Subject: one\r\nMessage-ID: <a@b>\r\n\r\nbody\r\nMessage-ID: <not@this>\r\n",
        b"Subject: one\nMessage-ID: <a@b>\n\nbody\nMessage-ID: <not@this>\n",
        b"Subject: one\rMessage-ID: <a@b>\r\rbody\rMessage-ID: <not@this>\r",
        b"Subject: one\r\nMessage-ID:\r\n <a@b>\n\r\nbody\r\n",
        b"Subject: one\r\nMessage-ID: <a@b>",
        b"From someone Mon Jan  4 09:00:00 2027\nMessage-ID: <a@b>\n\nbody",
        b"Message-ID: <a@b>\r\nnot a header line\r\nX: y\r\n\r\nbody",
        b"\r\nMessage-ID: <a@b>\r\n",
        b"",
    ],
)
def test_the_header_block_holds_every_header_the_whole_message_has(data: bytes) -> None:
    """Storing reads only the header block; the parser finds exactly the same headers in it
    (every line break style, folded lines, a missing empty line)."""
    whole = BytesHeaderParser(policy=compat32).parsebytes(data)
    block = BytesHeaderParser(policy=compat32).parsebytes(header_block(data))
    assert block.items() == whole.items()
    assert header_message_id(data) == (
        _MESSAGE_ID.search(str(whole["Message-ID"])).group(0) if whole["Message-ID"] else None
    )


def _project_runtime(tmp_path: Path, name: str, clock: VirtualClock) -> tuple[Runtime, Path]:
    """A runtime on its own copy of the project and SQLite file, its first touches sent."""
    home = copy_project(tmp_path / name)
    prospecting = home / "sequences" / "prospecting.yaml"
    prospecting.write_text(
        prospecting.read_text(encoding="utf-8") + "on_reply:\n  positive: [advance, enroll_next]\n",
        encoding="utf-8",
    )
    runtime = Runtime.from_settings(
        make_settings(home, f"sqlite:///{tmp_path / name}.db"), VirtualClock(clock.now())
    )
    _sent_touch(runtime, home)
    return runtime, home


def _what_happened(runtime: Runtime) -> dict[str, object]:
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        return {
            "lead": (lead.status, lead.stage),
            "events": [
                (e.kind, e.cause, e.sequence, e.step_index, e.touch_id, e.detail)
                for e in session.scalars(
                    select(Event).where(Event.lead_id == lead.id).order_by(Event.id)
                )
                if e.kind != "sent"  # its detail holds the touch's random Message-ID
            ],
            "enrollments": [
                (e.sequence, e.status, e.current_step, e.resume_at, e.finished_at)
                for e in session.scalars(
                    select(Enrollment).where(Enrollment.lead_id == lead.id).order_by(Enrollment.id)
                )
            ],
            "review": [
                (r.reason, r.suggested_action, r.detail, r.due_at)
                for r in session.scalars(select(ReviewItem).order_by(ReviewItem.id))
            ],
            "inbound": [
                (m.status, m.intent, m.lead_id, m.touch_id)
                for m in session.scalars(select(InboundMessage).order_by(InboundMessage.id))
            ],
        }


def test_replies_of_one_lead_in_one_batch_are_acted_on_as_one_after_the_other(
    tmp_path: Path, clock: VirtualClock, stub_broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch reads its leads and enrollments once; each reply still sees what the ones
    before it did (here a new enrollment the first made, which the last one stops)."""
    bodies = (
        "Sounds good, let's talk next week.",
        "I am out of the office until 3 February with limited access to email.",
        "Please remove me from your mailing list.",
    )
    outcomes = []
    for name, batch in (("together", ingest_module.BATCH), ("alone", 1)):
        runtime, _home = _project_runtime(tmp_path, name, clock)
        try:
            with runtime.sessions() as session:
                touch = session.scalar(
                    select(Touch).join(Lead, Lead.id == Touch.lead_id).where(Lead.email == ADA)
                )
            folder = tmp_path / f"{name}-in"
            folder.mkdir()
            for n, body in enumerate(bodies):
                reply = EmailMessage()
                reply["From"] = f"Ada Winter <{ADA}>"
                reply["Subject"] = "Re: hello"
                reply["Message-ID"] = f"<reply-{n}@northwind.test>"
                reply["In-Reply-To"] = touch.message_id
                reply.set_content(body)
                (folder / f"{n}.eml").write_bytes(reply.as_bytes())
            monkeypatch.setattr(ingest_module, "BATCH", batch)
            report = ingest(runtime, str(folder))
            outcomes.append((dict(report.statuses), _what_happened(runtime)))
        finally:
            stop_embedded_workers()
            runtime.close()

    together, alone = outcomes
    assert together == alone
    statuses, happened = together
    assert statuses == {"positive": 1, "ooo": 1, "unsubscribe": 1}
    assert happened["lead"] == ("unsubscribed", "qualification")
    assert [e[:2] for e in happened["enrollments"]] == [
        ("prospecting", "stopped"),
        ("qualification", "stopped"),  # enrolled by the first reply, stopped by the last
    ]
