"""Replying to a lead from the app (``worker.working.replies``), on SQLite and PostgreSQL, to a
real SMTP server: threaded and signed, sent once per form key however often it is
submitted, recorded once on the timeline, and refused — nothing sent — for a suppressed
address or a paused mailbox."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser_support import chromium, live_server
from tests.conftest import REPO, SmtpSink, make_settings
from tests.reply_support import first_touch_after_a_batch
from tests.web_support import PASSWORD, add_test_rep
from worker.clock import VirtualClock
from worker.leads import lifecycle
from worker.leads.flags import flag
from worker.mailboxes.pauses import pause_mailbox, resume_mailbox
from worker.processes.scheduler import tick_and_enqueue
from worker.runtime import Runtime, set_runtime
from worker.store.models import (
    Enrollment,
    Event,
    InboundMessage,
    Lead,
    ManualReply,
    ReviewItem,
    Touch,
)
from worker.vocabulary import ReviewReason
from worker.working.replies import (
    ReplyRefusedError,
    ReplyRequest,
    Then,
    draft_reply,
    send_reply,
)
from worker.working.reply_threads import reply_subject

ADA = "ada@northwind.test"
KLAUS = "k.mueller@brauhaus-logistik.test"
JAMES = "j.carter@brightwave-media.test"
SIGNATURE = "Best regards,\nAda Fischer — Northwind Analytics"
ROOT_ID = "<thread-root@elsewhere.test>"


def add_signature(project: Path) -> None:
    path = project / "mailboxes.yaml"
    text = path.read_text()
    marker = "    daily_limit: 200\n"
    assert marker in text
    block = "".join(f"      {line}\n" for line in SIGNATURE.splitlines())
    path.write_text(text.replace(marker, marker + "    signature: |\n" + block, 1))


def keep_only_three_leads(project: Path) -> None:
    """The sample leads file cut to Ada, Klaus and James: a batch of three, not 25."""
    path = project / "examples" / "leads.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines[1:] if line.startswith((ADA, KLAUS, JAMES))]
    path.write_text(lines[0] + "".join(kept), encoding="utf-8")


def lead_wrote_back(runtime: Runtime, email: str, subject: str, message_id: str) -> int:
    """A stored, matched reply of ``email`` to its first touch (not acted on: the lead's
    sequence still runs); its id."""
    with runtime.sessions.begin() as session:
        touch = session.scalar(
            select(Touch).join(Lead, Lead.id == Touch.lead_id).where(Lead.email == email)
        )
        assert touch is not None
        assert touch.message_id
        raw = (
            f"From: {email}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"In-Reply-To: {touch.message_id}\r\nReferences: {ROOT_ID} {touch.message_id}\r\n"
            "\r\nSounds interesting - what does it cost?\r\n"
        ).encode()
        inbound = InboundMessage(
            dedupe_key=f"test:{message_id}",
            message_id=message_id,
            source="test",
            received_at=runtime.clock.now(),
            raw=raw,
            size=len(raw),
            status="processed",
            from_address=email,
            subject=subject,
            lead_id=touch.lead_id,
            touch_id=touch.id,
            matched_by="message_id",
            intent="question",
        )
        session.add(inbound)
        session.flush()
        return inbound.id


def lead_id_of(runtime: Runtime, email: str) -> int:
    with runtime.sessions() as session:
        found = session.scalar(select(Lead.id).where(Lead.email == email))
        assert found is not None
        return found


@pytest.fixture
def replying(
    project: Path, database_url: str, clock: VirtualClock, stub_broker: Any, smtp_sink: SmtpSink
) -> Iterator[Runtime]:
    add_signature(project)
    keep_only_three_leads(project)
    settings = make_settings(project, database_url).with_changes(transport_url=smtp_sink.url)
    runtime = Runtime.from_settings(settings, clock)
    set_runtime(runtime)
    first_touch_after_a_batch(runtime, project, ADA)
    yield runtime
    set_runtime(None)
    runtime.close()


def test_a_reply_goes_out_once_in_the_thread_and_only_through_the_gates(
    replying: Runtime, smtp_sink: SmtpSink, clock: VirtualClock
) -> None:
    runtime = replying
    before = len(smtp_sink.messages)
    answered = "<question-1@northwind.test>"
    lead_wrote_back(runtime, ADA, "Re: Re: Forecasts at Northwind", answered)
    ada = lead_id_of(runtime, ADA)

    # The same form submitted from two threads at once: one email, one timeline entry.
    request = ReplyRequest(
        key="form-key-ada-0001",
        lead_id=ada,
        body="Hi Ada,\r\n\r\nit starts at 49 EUR a seat.  \n",
        by="rita",
    )
    results: list[Any] = []
    start = threading.Barrier(2)

    def submit() -> None:
        start.wait()
        results.append(send_reply(runtime, request))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(r.already for r in results) == [False, True]
    assert send_reply(runtime, request).already  # and once more, later: still nothing sent
    sent = smtp_sink.messages[before:]
    assert len(sent) == 1
    message = sent[0]
    assert message["To"] == "Ada Winter <ada@northwind.test>"
    assert message["From"] == "Ada Fischer <ada.fischer@northwind-analytics.example>"
    assert message["Subject"] == "Re: Forecasts at Northwind"
    assert message["In-Reply-To"] == answered
    references = message["References"].split()
    assert references == [ROOT_ID, references[1], answered]
    assert message["Message-ID"].endswith("@northwind-analytics.example>")
    assert "List-Unsubscribe" not in message
    text = message.get_payload(decode=True).decode()
    assert text.replace("\r\n", "\n") == (
        f"Hi Ada,\n\nit starts at 49 EUR a seat.\n\n{SIGNATURE}\n"
    )
    with runtime.sessions() as session:
        logged = session.scalars(
            select(Event).where(Event.lead_id == ada, Event.kind == "reply_sent")
        ).all()
        assert len(logged) == 1
        assert logged[0].detail["text"].startswith("Hi Ada,")
        assert logged[0].detail["message_id"] == message["Message-ID"]
        assert logged[0].cause == "rep: rita"
        statuses = session.scalars(select(Enrollment.status).where(Enrollment.lead_id == ada))
        assert set(statuses) == {"stopped"}  # the default: stop the sequence
        assert session.get(Lead, ada).status == "stopped"  # type: ignore[union-attr]

    # A suppressed address is refused and nothing is sent.
    klaus = lead_id_of(runtime, KLAUS)
    with runtime.sessions.begin() as session:
        lifecycle.suppress(session, "brauhaus-logistik.test", reason="manual", at=clock.now())
    with pytest.raises(ReplyRefusedError, match="suppression list"):
        send_reply(runtime, ReplyRequest("form-key-klaus-01", klaus, "Hallo", by="rita"))

    # A paused mailbox refuses with what to do; the same form goes out once it is resumed,
    # paused until a date as asked; a subject trying to add a header stays one line.
    james = lead_id_of(runtime, JAMES)
    question = lead_wrote_back(
        runtime, JAMES, "Pricing?\r\nBcc: everyone@example.test", "<q-2@bw.test>"
    )
    lead_wrote_back(runtime, JAMES, "Later message", "<q-3@bw.test>")
    with runtime.sessions.begin() as session:
        item = flag(
            session, james, ReviewReason.REPLY_QUESTION, at=clock.now(), inbound_id=question
        )
    mailbox = draft_reply(runtime, james, "Hi James").mailbox
    with runtime.sessions.begin() as session:
        pause_mailbox(session, mailbox, "bounce rate", at=clock.now())
    until = clock.now() + timedelta(days=14)
    paused = ReplyRequest("form-key-james-1", james, "Hi James", "rita", Then.PAUSE, until, item)
    with pytest.raises(ReplyRefusedError, match=f"mailbox '{mailbox}' is paused.*Resume"):
        send_reply(runtime, paused)
    assert len(smtp_sink.messages) == before + 1
    with runtime.sessions.begin() as session:
        resume_mailbox(session, mailbox, at=clock.now())
    assert not send_reply(runtime, paused).already
    assert len(smtp_sink.messages) == before + 2
    reply = smtp_sink.messages[-1]
    assert reply["Bcc"] is None
    assert reply["In-Reply-To"] == "<q-2@bw.test>"  # the item's message, not the latest
    assert reply["Subject"] == "Re: Pricing? Bcc: everyone@example.test"
    with runtime.sessions() as session:
        rows = {r.key: r.status for r in session.scalars(select(ManualReply))}
        assert rows == {
            "form-key-ada-0001": "sent",
            "form-key-klaus-01": "refused",
            "form-key-james-1": "sent",
        }
        resolved = session.get(ReviewItem, item)
        assert resolved is not None
        assert (resolved.resolution, resolved.note) == ("resume", "replied — by rita")
        enrollments = session.scalars(select(Enrollment).where(Enrollment.lead_id == james))
        assert {(e.status, e.resume_at) for e in enrollments} == {("paused", until)}

    # A process that stopped after handing a reply over leaves it in doubt: "delivery
    # unknown" on the timeline and in the queue, and the same form never sends it again.
    with runtime.sessions.begin() as session:
        stale = clock.now() - timedelta(hours=1)
        session.add(
            ManualReply(
                key="form-key-klaus-crashed",
                lead_id=klaus,
                body="Hallo",
                then="stop",
                status="sending",
                subject="Re: Forecast",
                created_at=stale,
                started_at=stale,
            )
        )
    tick_and_enqueue(runtime)  # the scheduler's tick settles it, with no reply sent
    with runtime.sessions() as session:
        kinds = session.scalars(select(Event.kind).where(Event.lead_id == klaus))
        assert "delivery_unknown" in set(kinds)
    crashed = ReplyRequest("form-key-klaus-crashed", klaus, "Hallo", by="rita")
    result = send_reply(runtime, crashed)
    assert (result.already, result.status) == (True, "unknown")
    assert len(smtp_sink.messages) == before + 2
    with runtime.sessions() as session:
        kinds = session.scalars(select(Event.kind).where(Event.lead_id == klaus))
        assert "delivery_unknown" in set(kinds)
        reasons = session.scalars(select(ReviewItem.reason).where(ReviewItem.lead_id == klaus))
        assert "delivery_unknown" in set(reasons)


def test_a_subject_gets_one_re_whatever_the_thread_called_it() -> None:
    assert reply_subject("Re: RE: AW: Pricing") == "Re: Pricing"
    assert reply_subject("Pricing\r\nBcc: x@example.test") == "Re: Pricing Bcc: x@example.test"
    assert reply_subject("") == "Re: (no subject)"


@pytest.fixture
def lead_that_replied(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any, smtp_sink: SmtpSink
) -> Iterator[tuple[Runtime, int, int]]:
    """Ada answered her first email (her sequence still runs), a question in the queue."""
    shutil.copytree(REPO / "snippets", project / "snippets")
    keep_only_three_leads(project)
    settings = make_settings(project, sqlite_url).with_changes(transport_url=smtp_sink.url)
    runtime = Runtime.from_settings(settings, clock)
    set_runtime(runtime)
    first_touch_after_a_batch(runtime, project, ADA)
    inbound = lead_wrote_back(runtime, ADA, "Re: Forecasts at Northwind", "<q-9@northwind.test>")
    ada = lead_id_of(runtime, ADA)
    with runtime.sessions.begin() as session:
        item = flag(session, ada, ReviewReason.REPLY_QUESTION, at=clock.now(), inbound_id=inbound)
        assert item is not None
    add_test_rep(runtime)
    yield runtime, ada, item
    set_runtime(None)
    runtime.close()


def test_a_rep_answers_with_a_snippet_in_the_browser_and_it_arrives_once_threaded(
    lead_that_replied: tuple[Runtime, int, int], smtp_sink: SmtpSink
) -> None:
    runtime, ada, item = lead_that_replied
    before = len(smtp_sink.messages)
    with live_server(runtime) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/login?next=/queue/{item}")
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/queue/{item}")
        assert page.locator("form.reply").count() == 1  # the queue item offers it too

        page.goto(f"{base}/leads/{ada}")
        form = page.locator("form.reply")
        assert "Re: Forecasts at Northwind" in page.locator("section.reply-form").inner_text()
        form.get_by_label("Snippet").select_option("pricing")
        text = form.get_by_label("Text").input_value()
        assert text.startswith("Hi Ada,\n\nthanks for asking.")
        assert "Northwind Traders" in text
        # The same form posted twice more (a double click without script, a retry), then sent.
        fields = page.evaluate(
            "() => Object.fromEntries(new FormData(document.querySelector('form.reply')))"
        )
        action = base + form.get_attribute("action")
        for _ in range(2):
            assert page.request.post(action, form=fields).status == 200
        form.get_by_role("button", name="Send reply").click()
        page.wait_for_load_state()
        assert "nothing was sent again" in page.locator(".flash").inner_text()
        page.reload()

        arrived = [m for m in smtp_sink.messages[before:] if m["To"].endswith(f"<{ADA}>")]
        assert len(arrived) == 1
        reply = arrived[0]
        assert reply["In-Reply-To"] == "<q-9@northwind.test>"
        assert reply["References"].split()[-1] == "<q-9@northwind.test>"
        assert reply["Subject"] == "Re: Forecasts at Northwind"
        sent_text = reply.get_payload(decode=True).decode().replace("\r\n", "\n")
        assert sent_text.startswith(text.strip())
        assert sent_text.rstrip().endswith("+49 30 5550 1234")  # the mailbox's sign-off

        entry = page.locator("li.entry.event.reply_sent")
        assert entry.count() == 1
        assert "Reply sent" in entry.inner_text()
        entry.locator("summary").click()
        assert "thanks for asking" in entry.locator("pre.mail").inner_text()
        assert page.locator("li.entry.event.sequence_stopped").count() == 1
        assert not errors, errors
    with runtime.sessions() as session:
        statuses = session.scalars(select(Enrollment.status).where(Enrollment.lead_id == ada))
        assert set(statuses) == {"stopped"}
