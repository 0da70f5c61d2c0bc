"""Undoing a resolution for a short while after it, and what a rep can make of a message from
an unknown sender (attach it to a lead, make the sender a lead, suppress, dismiss)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cli_support import make_invoke, reset_cli_runtime
from tests.conftest import make_settings
from tests.reply_support import reply_to
from tests.web_support import signed_in_client
from worker.clock import VirtualClock
from worker.errors import OutreachError
from worker.inbound.processing import process_stored
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.review.resolutions import resolve, resolve_now
from worker.review.undo import undo_now
from worker.runtime import Runtime, set_runtime
from worker.store.models import (
    Enrollment,
    Event,
    InboundMessage,
    Lead,
    ReviewItem,
    Suppression,
    Touch,
)
from worker.understanding import Classification

ADA = "ada@northwind.test"
KLAUS = "k.mueller@brauhaus-logistik.test"
LEADS = """\
email,first_name,last_name,company,stage,timezone
ada@northwind.test,Ada,Winter,Northwind Traders,prospecting,Europe/London
k.mueller@brauhaus-logistik.test,Klaus,Müller,Brauhaus Logistik GmbH,prospecting,Europe/Berlin
"""
STRANGER = """\
From: "Grace Hopper" <{sender}>
To: ada.fischer@northwind-analytics.example
Subject: {subject}
Message-ID: <{tag}@elsewhere.test>
Content-Type: text/plain; charset=utf-8

{body}
"""


def _two_leads_mailed(runtime: Runtime, project: Path) -> None:
    path = project / "undo-leads.csv"
    path.write_text(LEADS, encoding="utf-8")
    import_leads(runtime.sessions, path, runtime.clock, runtime.catalog)
    run_batch(runtime)
    runtime.clock.advance(timedelta(hours=3))  # the replies come later


def _flag_reply(runtime: Runtime, email: str, intent: str = "question") -> int:
    """A reply of ``intent`` from ``email`` to its first email, acted on: its open item."""
    with runtime.sessions() as session:
        touch = session.scalar(
            select(Touch).join(Lead, Lead.id == Touch.lead_id).where(Lead.email == email)
        )
        assert touch is not None
        session.expunge(touch)
    reply_to(runtime, touch, Classification(intent, 0.95, text="How much is it?"))  # type: ignore[arg-type]
    with runtime.sessions() as session:
        item = session.scalar(
            select(ReviewItem.id).where(
                ReviewItem.lead_id == touch.lead_id, ReviewItem.resolved_at.is_(None)
            )
        )
        assert item is not None
        return item


def _state(runtime: Runtime, email: str) -> dict[str, object]:
    """Everything a resolution may change about the lead, as comparable values."""
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
        assert lead is not None
        enrollments = session.execute(
            select(
                Enrollment.sequence,
                Enrollment.status,
                Enrollment.current_step,
                Enrollment.next_due_at,
                Enrollment.resume_at,
            )
            .where(Enrollment.lead_id == lead.id)
            .order_by(Enrollment.id)
        ).all()
        return {
            "lead": (lead.status, lead.stage, lead.qualification, lead.owner),
            "enrollments": [tuple(row) for row in enrollments],
            "suppressed": session.scalar(
                select(func.count()).select_from(Suppression).where(Suppression.value == email)
            ),
            "open items": session.scalars(
                select(ReviewItem.reason).where(
                    ReviewItem.lead_id == lead.id, ReviewItem.resolved_at.is_(None)
                )
            ).all(),
        }


def test_undo_puts_the_lead_back_and_is_refused_after_the_window_or_a_sent_email(
    runtime: Runtime, project: Path
) -> None:
    _two_leads_mailed(runtime, project)
    item = _flag_reply(runtime, ADA)
    before = _state(runtime, ADA)
    assert before["open items"] == ["reply_question"]

    # An unsubscribe: suppressed, sequence stopped — and all of it undone.
    resolve_now(runtime, item, "unsubscribe", note="asked by phone", by="rita")
    after = _state(runtime, ADA)
    assert after["lead"][0] == "unsubscribed"  # type: ignore[index]
    assert after["suppressed"] == 1
    assert [row[1] for row in after["enrollments"]] == ["stopped"]  # type: ignore[union-attr]
    runtime.clock.advance(timedelta(seconds=30))
    undone = undo_now(runtime, item, by="rita")
    assert (undone.item_id, undone.action, undone.lead_email) == (item, "unsubscribe", ADA)
    assert _state(runtime, ADA) == before
    with runtime.sessions() as session:
        reopened = session.get(ReviewItem, item)
        assert reopened is not None
        assert (reopened.resolved_at, reopened.resolution, reopened.note) == (None, None, None)
        event = session.scalars(select(Event).where(Event.kind == "resolution_undone")).one()
        assert (event.cause, event.detail["item"], event.detail["by"]) == (
            "unsubscribe",
            item,
            "rita",
        )
    with pytest.raises(OutreachError, match="is open; there is nothing to undo"):
        undo_now(runtime, item)

    # Advance: a new stage and a new enrollment, both gone again after the undo.
    resolve_now(runtime, item, "advance")
    advanced = _state(runtime, ADA)
    assert advanced["lead"][1] == "qualification"  # type: ignore[index]
    assert len(advanced["enrollments"]) == 2  # type: ignore[arg-type]
    undo_now(runtime, item)
    assert _state(runtime, ADA) == before

    # Something else happened to the lead since (another reply): refused, newer facts stand.
    resolve_now(runtime, item, "resume")
    runtime.clock.advance(timedelta(minutes=1))
    resumed, item = item, _flag_reply(runtime, ADA)
    with pytest.raises(OutreachError, match=r"the lead changed after it was resolved \(classified"):
        undo_now(runtime, resumed)

    # The window passes: refused, the resolution stands.
    resolve_now(runtime, item, "stop")
    runtime.clock.advance(timedelta(seconds=runtime.settings.undo_window_s + 1))
    with pytest.raises(OutreachError, match=r"Too late to undo review item \d+: its undo window"):
        undo_now(runtime, item)
    assert _state(runtime, ADA)["lead"][0] == "stopped"  # type: ignore[index]

    # An email went out after the resolution: it cannot be unsent, so no undo.
    other = _flag_reply(runtime, KLAUS)
    with runtime.sessions.begin() as session:
        resolve(
            session,
            runtime.catalog,
            other,
            "resume",
            at=runtime.clock.now(),
            undo_window_s=30 * 24 * 3600,
        )
    runtime.clock.advance(timedelta(days=10))
    assert run_batch(runtime).totals().get("sent") == 1
    with pytest.raises(OutreachError, match=f"an email went out to {KLAUS} .* cannot be unsent"):
        undo_now(runtime, other)


def _unknown_sender(runtime: Runtime, sender: str, subject: str, body: str) -> int:
    """A message from ``sender`` matching no lead, processed: its open item."""
    now = runtime.clock.now()
    raw = STRANGER.format(sender=sender, subject=subject, tag=f"{sender}-{now:%H%M%S%f}", body=body)
    data = raw.replace("\n", "\r\n").encode()
    with runtime.sessions.begin() as session:
        inbound = InboundMessage(
            dedupe_key=f"undo-test:{sender}:{subject}:{now.isoformat()}",
            source="test",
            received_at=now,
            raw=data,
            size=len(data),
        )
        session.add(inbound)
        session.flush()
        assert process_stored(session, runtime, inbound, now) == "unmatched"
        inbound_id = inbound.id
    with runtime.sessions() as session:
        item = session.scalar(
            select(ReviewItem.id).where(
                ReviewItem.reason == "inbound_unmatched", ReviewItem.inbound_id == inbound_id
            )
        )
        assert item is not None
        return item


@pytest.fixture
def on_sqlite(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any
) -> Iterator[Runtime]:
    """A runtime on SQLite only (the contract above runs on both databases)."""
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(runtime)
    yield runtime
    set_runtime(None)
    runtime.close()


def test_a_message_from_an_unknown_sender_is_attached_made_a_lead_suppressed_or_dismissed(
    on_sqlite: Runtime, project: Path
) -> None:
    runtime = on_sqlite
    _two_leads_mailed(runtime, project)
    # Ada wrote from her private address: the rep attaches it to her, on the command line.
    item = _unknown_sender(
        runtime, "ada.private@home.example", "Demo?", "Yes, I am interested — let's book a demo."
    )
    invoke = make_invoke(project, runtime.settings.database_url)
    try:
        missing = invoke("review", "resolve", str(item), "--action", "attach")
        assert missing.exit_code == 1
        assert "attach needs the lead's address" in missing.output
        nobody = invoke("review", "resolve", str(item), "--action", "attach", "--lead", "x@y.test")
        assert nobody.exit_code == 1
        assert "No lead x@y.test" in nobody.output
        done = invoke("review", "resolve", str(item), "--action", "attach", "--lead", ADA.upper())
        assert done.exit_code == 0, done.output
        assert f"resolved #{item} (attach) for {ADA}" in done.output
        shown = invoke("leads", "show", ADA)
        assert "Reply received" in shown.output
    finally:
        reset_cli_runtime()
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        inbound = session.scalar(select(InboundMessage).where(InboundMessage.lead_id == lead.id))
        assert inbound is not None
        assert (inbound.status, inbound.matched_by, inbound.intent) == (
            "processed",
            "rep",
            "positive",
        )
        kinds = session.scalars(
            select(Event.kind).where(Event.lead_id == lead.id).order_by(Event.id)
        ).all()
        assert kinds.index("reply_received") < kinds.index("classified")
        assert kinds[-1] == "resolved"
        # The sequence reacted as to any positive reply: stopped, and a hot lead to call.
        enrollment = session.scalar(select(Enrollment).where(Enrollment.lead_id == lead.id))
        assert enrollment is not None
        assert enrollment.status != "active"
        assert (
            "hot_lead"
            in session.scalars(select(ReviewItem.reason).where(ReviewItem.lead_id == lead.id)).all()
        )
        assert session.get(ReviewItem, item).lead_id == lead.id  # type: ignore[union-attr]

    # A stranger becomes a lead, with the name from From, and the message is its reply.
    stranger = _unknown_sender(runtime, "grace@hopper.example", "Pricing", "What does it cost?")
    again = _unknown_sender(runtime, "grace@hopper.example", "Again", "Hello?")
    result = resolve_now(runtime, stranger, "create-lead", by="rita")
    assert result.lead_email == "grace@hopper.example"
    with runtime.sessions() as session:
        grace = session.scalar(select(Lead).where(Lead.email == "grace@hopper.example"))
        assert grace is not None
        assert (grace.first_name, grace.last_name, grace.stage) == (
            "Grace",
            "Hopper",
            "prospecting",
        )
        assert (
            session.scalar(
                select(InboundMessage.lead_id).where(InboundMessage.from_address == grace.email)
            )
            == grace.id
        )
    with pytest.raises(OutreachError, match="already a lead"):
        resolve_now(runtime, again, "create-lead")
    # Undo removes the lead it created and puts the message back in front of a rep.
    undo_now(runtime, stranger)
    with runtime.sessions() as session:
        assert session.scalar(select(Lead).where(Lead.email == "grace@hopper.example")) is None
        back = session.get(ReviewItem, stranger)
        assert back is not None
        assert (back.resolved_at, back.lead_id) == (None, None)

    spam = _unknown_sender(runtime, "offers@spam.example", "Deal", "Buy now")
    resolve_now(runtime, spam, "suppress-sender")
    with runtime.sessions() as session:
        assert session.scalar(
            select(Suppression.value).where(Suppression.value == "offers@spam.example")
        )
    dismissed = _unknown_sender(runtime, "someone@else.example", "Hi", "Wrong address?")
    resolve_now(runtime, dismissed, "dismiss")
    with pytest.raises(OutreachError, match="not about a message from an unknown sender"):
        resolve_now(runtime, _flag_reply(runtime, KLAUS), "dismiss")


def test_the_queue_page_offers_attach_create_suppress_and_dismiss_for_an_unknown_sender(
    on_sqlite: Runtime, project: Path
) -> None:
    runtime = on_sqlite
    _two_leads_mailed(runtime, project)
    item = _unknown_sender(runtime, "ada.private@home.example", "Demo?", "Interested, call me.")
    client, token = signed_in_client(runtime)

    page = client.get(f"/queue/{item}").text
    assert "Message from an unknown sender" in page
    assert "Attach to lead…" in page
    for label in ("Create a lead from the sender", "Suppress the sender", "Dismiss (not a lead)"):
        assert f">{label}</button>" in page
    assert '<textarea name="note"' in page  # Enter in the note never submits

    answer = client.post(
        f"/queue/{item}/resolve",
        data={"action": "attach", "lead": ADA, "csrf_token": token, "back": f"/queue/{item}"},
        follow_redirects=True,
    )
    assert f"Resolved #{item} as Attach to a lead for {ADA}." in answer.text
    assert "Undo" in answer.text
    with runtime.sessions() as session:
        assert (
            session.scalar(
                select(InboundMessage.status).where(
                    InboundMessage.from_address.like("ada.private%")
                )
            )
            == "processed"
        )
    undone = client.post(
        f"/queue/{item}/undo",
        data={"csrf_token": token, "back": f"/queue/{item}"},
        follow_redirects=True,
    )
    assert f"Undone: #{item} (Attach to a lead for {ADA}) is open again." in undone.text
    assert "Attach to lead…" in undone.text
