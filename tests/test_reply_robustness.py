"""Inbound mail never crashes a batch and is never lost or processed twice: broken messages
are kept raw and flagged, concurrent ingestion processes each message once, and a message
stored before a crash is processed by the next run."""

from __future__ import annotations

import threading
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from tests.reply_support import first_touch_after_a_batch
from worker.inbound import processing
from worker.inbound.ingest import ingest, match_pending, store_from
from worker.store.models import Enrollment, Event, InboundMessage, Lead, ReviewItem, Touch

ADA = "ada@northwind.test"


def _sent_touch(runtime, project: Path, email: str = ADA) -> Touch:
    return first_touch_after_a_batch(runtime, project, email)


def _headers(touch: Touch, n: int, extra: str = "") -> str:
    return (
        f"From: Ada Winter <{ADA}>\r\nTo: ada.fischer@northwind-analytics.example\r\n"
        f"Subject: Re: hello {n}\r\nMessage-ID: <odd-{n}@northwind.test>\r\n"
        f"In-Reply-To: {touch.message_id}\r\n{extra}"
    )


def _odd_messages(touch: Touch) -> dict[str, bytes]:
    html_only = (
        _headers(touch, 1, "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n")
        + "\r\n<html><body><p>Sounds good, let&#39;s talk next week.</p></body></html>\r\n"
    )
    unknown_charset = (
        _headers(touch, 2, "Content-Type: text/plain; charset=x-klingon\r\n")
        + "\r\nKein Interesse, danke.\xe4\r\n"
    )
    broken_mime = (
        _headers(touch, 3, 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n')
        + "\r\n--b\r\nContent-Type: text/plain\r\n\r\nWhat does it cost?\r\n--b"  # never closed
    )
    attachment = EmailMessage()
    attachment["From"] = ADA
    attachment["Message-ID"] = "<odd-4@northwind.test>"
    attachment["In-Reply-To"] = touch.message_id
    attachment["Subject"] = "Re: hello 4"
    attachment.set_content("")
    attachment.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf")
    return {
        "1-html-only.eml": html_only.encode(),
        "2-unknown-charset.eml": unknown_charset.encode("latin-1"),
        "3-broken-mime.eml": broken_mime.encode(),
        "4-attachment-only.eml": attachment.as_bytes(),
        "5-empty-body.eml": (_headers(touch, 5) + "\r\n").encode(),
        "6-no-headers.eml": b"\r\njust a body, no headers at all\r\n",
        "7-binary.eml": bytes(range(256)) * 8,
    }


def test_odd_messages_are_kept_raw_and_never_stop_the_batch(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent_touch(runtime, project)
    folder = tmp_path / "odd"
    folder.mkdir()
    for name, data in _odd_messages(touch).items():
        (folder / name).write_bytes(data)
    good = EmailMessage()
    good["From"] = "Klaus Müller <k.mueller@brauhaus-logistik.test>"
    good["Message-ID"] = "<fine@brauhaus-logistik.test>"
    good["Subject"] = "Bitte aus dem Verteiler nehmen"
    good.set_content("Bitte nehmen Sie mich aus dem Verteiler. Danke.")
    (folder / "8-fine.eml").write_bytes(good.as_bytes())

    report = ingest(runtime, str(folder))

    assert (report.read, report.stored) == (8, 8)
    assert report.statuses["unparseable"] == 2  # no headers, binary garbage
    assert report.statuses["unsubscribe"] == 1  # the good one after all of them
    assert "failed" not in report.statuses
    with runtime.sessions() as session:
        stored = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        unparseable = session.scalars(
            select(ReviewItem.reason).where(ReviewItem.reason == "inbound_unparseable")
        ).all()
    assert all(m.raw for m in stored)
    assert {m.status for m in stored} <= {"processed", "unparseable"}
    assert len(unparseable) == 2
    by_subject = {m.subject: m for m in stored}
    assert by_subject["Re: hello 1"].intent == "positive"  # HTML-only read as text
    assert by_subject["Re: hello 1"].reply_text


def _three_yeses(runtime, project: Path, tmp_path: Path) -> Path:
    """A folder of three positive replies to one sent touch ("Re: hello 0" to "… 2")."""
    touch = _sent_touch(runtime, project)
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.eml").write_bytes(
            (_headers(touch, n) + "\r\nSounds good, let's talk.\r\n").encode()
        )
    return folder


def test_a_message_that_breaks_processing_is_kept_flagged_and_the_rest_go_on(
    runtime, project: Path, tmp_path: Path, monkeypatch
) -> None:
    folder = _three_yeses(runtime, project, tmp_path)
    real = processing.act_on_reply

    def broken_on_one(session, catalog, policy, inbound, found, *, at, **options):
        if inbound.subject == "Re: hello 1":  # the middle one of a batch sharing a transaction
            raise RuntimeError("disk on fire")
        return real(session, catalog, policy, inbound, found, at=at, **options)

    monkeypatch.setattr(processing, "act_on_reply", broken_on_one)

    report = ingest(runtime, str(folder))

    assert report.statuses == Counter({"failed": 1, "positive": 2})
    with runtime.sessions() as session:
        failed = session.scalar(select(InboundMessage).where(InboundMessage.status == "failed"))
        processed = session.scalars(
            select(InboundMessage.subject).where(InboundMessage.status == "processed")
        ).all()
        item = session.scalar(select(ReviewItem).where(ReviewItem.reason == "inbound_failed"))
    assert sorted(processed) == ["Re: hello 0", "Re: hello 2"]
    assert failed is not None
    assert failed.raw
    assert "disk on fire" in (failed.error or "")
    assert item is not None
    assert item.inbound_id == failed.id


def test_a_failure_that_passes_is_not_pinned_on_a_message(
    runtime, project: Path, tmp_path: Path, monkeypatch
) -> None:
    """A batch that fails once is processed again one message at a time; a message whose
    processing then works is processed, not set aside."""
    folder = _three_yeses(runtime, project, tmp_path)
    real = processing.act_on_reply
    calls = Counter[str]()

    def flaky(session, catalog, policy, inbound, found, *, at, **options):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("connection reset")
        return real(session, catalog, policy, inbound, found, at=at, **options)

    monkeypatch.setattr(processing, "act_on_reply", flaky)

    report = ingest(runtime, str(folder))

    assert report.statuses == Counter({"positive": 3})
    with runtime.sessions() as session:
        statuses = session.scalars(select(InboundMessage.status)).all()
        items = session.scalars(select(ReviewItem.reason)).all()
    assert statuses == ["processed"] * 3
    assert "inbound_failed" not in items


def test_a_message_stored_before_a_crash_is_processed_by_the_next_run(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent_touch(runtime, project)
    path = tmp_path / "reply.eml"
    path.write_bytes((_headers(touch, 9) + "\r\nPlease remove me from your list.\r\n").encode())

    stored = store_from(runtime, str(path))  # the crash comes right after storing
    assert stored.stored == 1
    with runtime.sessions() as session:
        assert session.scalar(select(InboundMessage.status)) == "stored"

    assert match_pending(runtime) == Counter({"unsubscribe": 1})
    assert match_pending(runtime) == Counter()
    with runtime.sessions() as session:
        assert session.scalar(select(Lead.status).where(Lead.email == ADA)) == "unsubscribed"


def test_concurrent_ingestion_processes_each_message_once(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent_touch(runtime, project)
    folder = tmp_path / "shared"
    folder.mkdir()
    for n in range(12):
        (folder / f"{n:02}.eml").write_bytes(
            (_headers(touch, 100 + n) + "\r\nWhat does it cost for 20 people?\r\n").encode()
        )
    barrier = threading.Barrier(3)
    reports = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            reports.append(ingest(runtime, str(folder)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(r.stored for r in reports) == 12
    assert sum(r.statuses["question"] for r in reports) == 12
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 12
        classified = session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "classified")
        )
    assert classified == 12


def test_a_delayed_delivery_notice_never_resends_the_touch(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent_touch(runtime, project)
    notice = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n"
        "To: ada.fischer@northwind-analytics.example\r\n"
        "Subject: Delayed Mail (still being retried)\r\n"
        "Message-ID: <delay-1@mx.example.test>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered for 4 hours."
        "\r\nIt will be retried until it is 5 days old.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.test\r\n\r\n"
        f"Final-Recipient: rfc822; {ADA}\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {touch.message_id}\r\n\r\n--b1--\r\n"
    ).encode()
    (tmp_path / "delay.eml").write_bytes(notice)

    report = ingest(runtime, str(tmp_path / "delay.eml"))

    assert report.statuses == Counter({"bounce_soft": 1})
    with runtime.sessions() as session:
        assert session.get(Touch, touch.id).status == "sent"  # the MTA may still deliver it


def test_a_reply_whose_processing_fails_still_pauses_the_leads_sequence(
    runtime, project: Path, tmp_path: Path, monkeypatch
) -> None:
    touch = _sent_touch(runtime, project)
    path = tmp_path / "reply.eml"
    path.write_bytes((_headers(touch, 7) + "\r\nPlease stop emailing me.\r\n").encode())

    def broken(session, catalog, policy, inbound, found, *, at, **options):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(processing, "act_on_reply", broken)

    assert ingest(runtime, str(path)).statuses == Counter({"failed": 1})
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        item = session.scalar(select(ReviewItem).where(ReviewItem.reason == "inbound_failed"))
        statuses = set(
            session.scalars(select(Enrollment.status).where(Enrollment.lead_id == lead.id))
        )
    assert item is not None
    assert item.lead_id == lead.id  # the rep sees whose reply it is
    assert statuses == {"paused"}  # a reply nobody could read yet never gets a follow-up


def test_a_nul_byte_in_a_reply_is_read_and_stored_without_a_traceback(
    runtime, project: Path, tmp_path: Path
) -> None:
    """PostgreSQL refuses NUL in text: the subject, sender and text are stored without it."""
    touch = _sent_touch(runtime, project)
    folder = tmp_path / "in"
    folder.mkdir()
    raw = (
        _headers(touch, 5).replace("Subject: Re: hello 5", "Subject: Re: hel\x00lo")
        + "\r\nSounds good,\x00 let's talk.\r\n"
    )
    (folder / "nul.eml").write_bytes(raw.encode())

    report = ingest(runtime, str(folder))

    assert report.stored == 1
    assert report.statuses == Counter({"positive": 1})
    with runtime.sessions() as session:
        stored = session.scalar(select(InboundMessage))
    assert stored is not None
    assert stored.subject == "Re: hello"
    assert "\x00" not in (stored.reply_text or "")
    assert stored.raw == raw.encode()  # the raw message is kept as it came
