"""Acting on a classified reply: the default rules, the sequence's on_reply overrides, the
out-of-office pause and automatic resume, bounces, and the rep's reclassification."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.reply_support import reply_to, reported_at_the_last_line
from worker.authoring.sequences import load_catalog
from worker.delivery.sending import send_touches
from worker.delivery.tick import tick
from worker.errors import OutreachError
from worker.inbound.reactions import ReplyPolicy, resume_time
from worker.leads.flags import HOT
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.queries.review_queue import list_open
from worker.review.resolutions import resolve
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

ADA = "ada@northwind.test"  # prospecting, Europe/London


def _first_touch_sent(runtime, project: Path) -> Touch:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    run_batch(runtime)
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        return session.scalar(select(Touch).where(Touch.lead_id == lead.id, Touch.status == "sent"))


def _lead(runtime, email: str = ADA) -> Lead:
    with runtime.sessions() as session:
        return session.scalar(select(Lead).where(Lead.email == email))


def _enrollments(runtime, lead_id: int) -> list[Enrollment]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Enrollment).where(Enrollment.lead_id == lead_id).order_by(Enrollment.id)
            )
        )


def _touches(runtime, lead_id: int) -> list[Touch]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(Touch).where(Touch.lead_id == lead_id).order_by(Touch.id))
        )


def _open_items(runtime) -> list[dict]:
    with runtime.sessions() as session:
        return list_open(session)


def _kinds(runtime, lead_id: int) -> list[str]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Event.kind).where(Event.lead_id == lead_id).order_by(Event.at, Event.id)
            )
        )


def _run_days(runtime, days: int) -> None:
    for _ in range(days):
        runtime.clock.advance(timedelta(days=1))
        run_batch(runtime)


def test_a_positive_reply_advances_the_lead_and_flags_it_hot_above_everything_else(
    runtime, project: Path
) -> None:
    touch = _first_touch_sent(runtime, project)
    other = _lead(runtime, "k.mueller@brauhaus-logistik.test")
    with runtime.sessions.begin() as session:
        session.add(ReviewItem(lead_id=other.id, reason="older", created_at=runtime.clock.now()))
    runtime.clock.advance(timedelta(hours=1))

    reply_to(runtime, touch, Classification("positive", 0.9, text="Sounds good, let's talk."))

    lead = _lead(runtime)
    assert (lead.stage, lead.status) == ("qualification", "needs_review")
    assert [e.status for e in _enrollments(runtime, lead.id)] == ["stopped"]
    [hot, older] = _open_items(runtime)
    assert (hot["lead"], hot["reason"], hot["priority"]) == (ADA, "hot_lead", HOT)
    assert hot["suggested_action"] == "enroll:qualification"
    assert older["reason"] == "older"
    _run_days(runtime, 10)
    assert [t.status for t in _touches(runtime, lead.id)] == ["sent"]  # nothing after the reply
    assert {"classified", "sequence_stopped", "stage_changed", "flagged"} <= set(
        _kinds(runtime, lead.id)
    )


def test_a_reply_stops_a_touch_that_already_sits_in_the_queue(runtime, project: Path) -> None:
    _first_touch_sent(runtime, project)
    runtime.clock.advance(timedelta(days=5))  # step 2 is due
    queued = tick(runtime).to_enqueue
    lead = _lead(runtime)
    with runtime.sessions() as session:
        waiting = session.scalar(
            select(Touch).where(Touch.lead_id == lead.id, Touch.status == "queued")
        )
    assert waiting is not None
    assert waiting.id in queued

    reply_to(runtime, waiting, Classification("question", 0.85, text="What does it cost?"))
    send_touches(runtime, queued)  # the worker takes the queue message after the reply

    with runtime.sessions() as session:
        assert session.get(Touch, waiting.id).status == "skipped"
    assert _lead(runtime).status == "needs_review"
    [item] = _open_items(runtime)
    assert (item["reason"], item["suggested_action"]) == ("reply_question", "resume")


def test_negative_means_lost_and_unsubscribe_means_suppressed_for_good(
    runtime, project: Path
) -> None:
    touch = _first_touch_sent(runtime, project)
    reply_to(runtime, touch, Classification("negative", 0.9))
    lead = _lead(runtime)
    assert (lead.stage, lead.status) == ("lost", "stopped")
    assert [e.status for e in _enrollments(runtime, lead.id)] == ["stopped"]

    with runtime.sessions() as session:
        second = session.scalar(
            select(Touch).where(Touch.status == "sent", Touch.lead_id != lead.id)
        )
    reply_to(runtime, second, Classification("unsubscribe", 0.95))
    with runtime.sessions() as session:
        unsubscribed = session.get(Lead, second.lead_id)
        suppressed = session.scalar(
            select(Suppression).where(Suppression.value == unsubscribed.email)
        )
    assert unsubscribed.status == "unsubscribed"
    assert suppressed is not None
    assert suppressed.reason == "unsubscribe"
    _run_days(runtime, 30)
    assert [t.status for t in _touches(runtime, second.lead_id)] == ["sent"]


def test_out_of_office_pauses_and_resumes_at_the_same_step_on_the_return_date(
    runtime, project: Path
) -> None:
    touch = _first_touch_sent(runtime, project)  # Monday 2027-01-04
    reply_to(runtime, touch, Classification("ooo", 0.95, return_date=date(2027, 1, 18)))

    lead = _lead(runtime)
    [enrollment] = _enrollments(runtime, lead.id)
    assert (lead.status, enrollment.status, enrollment.current_step) == ("paused", "paused", 1)
    # 09:00 in London on the return date
    assert enrollment.resume_at == datetime(2027, 1, 18, 9, 0, tzinfo=UTC)
    _run_days(runtime, 13)  # up to Sunday 17th: still paused, nothing sent
    assert [t.status for t in _touches(runtime, lead.id)] == ["sent"]

    runtime.clock.advance(timedelta(days=1))  # Monday 18th, 09:00 UTC
    run_batch(runtime)

    lead = _lead(runtime)
    [enrollment] = _enrollments(runtime, lead.id)
    touches = _touches(runtime, lead.id)
    assert (lead.status, enrollment.status) == ("active", "active")
    assert [(t.step_index, t.status) for t in touches] == [(0, "sent"), (1, "sent")]
    kinds = _kinds(runtime, lead.id)
    assert kinds.index("paused") < kinds.index("resumed") < len(kinds) - 1


def test_out_of_office_without_a_date_resumes_after_the_fallback() -> None:
    at = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    assert resume_time(None, "Europe/Berlin", at, 7) == at + timedelta(days=7)
    assert resume_time(date(2027, 1, 11), "Europe/Berlin", at, 7) == datetime(
        2027, 1, 11, 8, 0, tzinfo=UTC
    )
    assert resume_time(date(2027, 1, 1), "Europe/Berlin", at, 7) == at  # already back


def test_a_hard_bounce_suppresses_the_address_and_marks_the_lead_bounced(
    runtime, project: Path
) -> None:
    touch = _first_touch_sent(runtime, project)
    reply_to(runtime, touch, Classification("bounce_hard", 0.98, bounced_recipients=(ADA,)))
    lead = _lead(runtime)
    assert lead.status == "bounced"
    with runtime.sessions() as session:
        assert session.scalar(select(Suppression.reason).where(Suppression.value == ADA)) == (
            "bounce"
        )
    _run_days(runtime, 20)
    assert [t.status for t in _touches(runtime, lead.id)] == ["sent"]


def test_a_soft_bounce_sends_the_touch_again_later_and_repeated_ones_count_as_hard(
    runtime, project: Path
) -> None:
    touch = _first_touch_sent(runtime, project)
    policy = ReplyPolicy(soft_bounce_limit=2, soft_bounce_retry_s=3600)
    first_id = touch.message_id

    reply_to(runtime, touch, Classification("bounce_soft", 0.95), policy)
    with runtime.sessions() as session:
        again = session.get(Touch, touch.id)
    assert again.status == "queued"
    assert again.available_at == runtime.clock.now() + timedelta(hours=1)
    run_batch(runtime)
    assert _touches(runtime, touch.lead_id)[0].status == "queued"  # not before the delay

    runtime.clock.advance(timedelta(hours=1))
    run_batch(runtime)
    [resent] = _touches(runtime, touch.lead_id)
    assert resent.status == "sent"
    assert resent.message_id != first_id
    [enrollment] = _enrollments(runtime, touch.lead_id)
    assert enrollment.current_step == 1

    reply_to(runtime, resent, Classification("bounce_soft", 0.95), policy)
    assert _lead(runtime).status == "bounced"


def test_an_auto_reply_is_ignored_and_the_sequence_goes_on(runtime, project: Path) -> None:
    touch = _first_touch_sent(runtime, project)
    reply_to(runtime, touch, Classification("auto_reply", 0.9))
    lead = _lead(runtime)
    assert lead.status == "active"
    assert _open_items(runtime) == []
    _run_days(runtime, 4)
    assert [t.status for t in _touches(runtime, lead.id)] == ["sent", "sent"]


def test_low_confidence_is_flagged_and_a_rep_reclassifies_it(runtime, project: Path) -> None:
    touch = _first_touch_sent(runtime, project)
    inbound_id = reply_to(
        runtime,
        touch,
        Classification("ooo", 0.4, return_date=date(2027, 1, 11), reasons=("weak",)),
    )
    [item] = _open_items(runtime)
    assert (item["reason"], item["suggested_action"]) == (
        "reply_low_confidence",
        "reclassify:ooo",
    )
    assert item["inbound_id"] == inbound_id
    assert _lead(runtime).status == "needs_review"

    with runtime.sessions.begin() as session:
        resolve(
            session,
            runtime.catalog,
            item["id"],
            "reclassify:ooo",
            at=runtime.clock.now(),
            note="auto-reply in Dutch",
        )

    lead = _lead(runtime)
    [enrollment] = _enrollments(runtime, lead.id)
    assert (lead.status, enrollment.status) == ("paused", "paused")
    assert enrollment.resume_at == datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
    assert _open_items(runtime) == []
    with runtime.sessions() as session:
        inbound = session.get(InboundMessage, inbound_id)
        closed = session.get(ReviewItem, item["id"])
    assert (inbound.intent, inbound.confidence) == ("ooo", 1.0)
    assert (closed.resolution, closed.note) == ("reclassify:ooo", "auto-reply in Dutch")
    assert "resolved" in _kinds(runtime, lead.id)


def test_reclassify_names_a_known_intent(runtime, project: Path) -> None:
    touch = _first_touch_sent(runtime, project)
    reply_to(runtime, touch, Classification("unknown", 0.3))
    [item] = _open_items(runtime)
    with runtime.sessions.begin() as session, pytest.raises(OutreachError, match="positive"):
        resolve(session, runtime.catalog, item["id"], "reclassify:yes", at=runtime.clock.now())


def test_on_reply_rules_in_the_sequence_override_the_defaults(runtime, project: Path) -> None:
    path = project / "sequences" / "prospecting.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "on_reply:\n  positive: [advance, enroll_next]\n  referral: stop\n",
        encoding="utf-8",
    )
    runtime.__dict__.pop("_loaded", None)
    touch = _first_touch_sent(runtime, project)

    reply_to(runtime, touch, Classification("positive", 0.9))

    lead = _lead(runtime)
    assert (lead.stage, lead.status) == ("qualification", "active")
    assert [(e.sequence, e.status) for e in _enrollments(runtime, lead.id)] == [
        ("prospecting", "stopped"),
        ("qualification", "active"),
    ]
    assert _open_items(runtime) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("  maybe: flag\n", "unknown key 'maybe' in on_reply (allowed: positive"),
        ("  question: continue\n", "a person replied"),
        ("  unsubscribe: stop\n", "must include 'suppress'"),
        ("  negative: retry\n", "'retry' applies only to 'bounce_soft'"),
        ("  question: shout\n", "unknown action 'shout'"),
        ("  positive: enroll:nowhere\n", "unknown sequence 'nowhere'"),
    ],
)
def test_bad_on_reply_rules_are_reported_with_file_and_line(
    project: Path, rule: str, message: str
) -> None:
    path = project / "sequences" / "prospecting.yaml"
    text = path.read_text(encoding="utf-8") + "on_reply:\n" + rule
    reported_at_the_last_line(project, text, message)
    catalog, _ = load_catalog(project / "sequences", project)
    assert ("prospecting" in catalog) == ("nowhere" in rule)


def test_the_review_commands_show_the_reply_and_resolve_by_reclassifying(
    project: Path, sqlite_url: str, tmp_path: Path
) -> None:
    from tests.cli_support import make_invoke, reset_cli_runtime

    invoke = make_invoke(project, sqlite_url)
    try:
        assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
        assert invoke("run").exit_code == 0
        shown = json.loads(invoke("leads", "show", ADA, "--json").output)
        [touch] = shown["touches"]
        reply = (
            f"From: Ada Winter <{ADA}>\r\nTo: ada.fischer@northwind-analytics.example\r\n"
            f"Subject: Re: {touch['subject']}\r\nMessage-ID: <r1@northwind.test>\r\n"
            f"In-Reply-To: {touch['message_id']}\r\n\r\n"
            "Does it work with Pipedrive, and what does it cost for 18 people?\r\n\r\n"
            "On Mon, 4 Jan 2027 at 09:00, Ada Fischer wrote:\r\n"
            "> Hi Ada,\r\n> Unsubscribe: https://northwind-analytics.example/u/x\r\n"
        )
        (tmp_path / "reply.eml").write_text(reply, encoding="utf-8")
        ingested = invoke("inbox", "ingest", str(tmp_path / "reply.eml"), "--json")
        assert json.loads(ingested.output)["question"] == 1, ingested.output

        listed = json.loads(invoke("review", "list", "--json").output)
        [item] = listed
        assert (item["reason"], item["suggested_action"]) == ("reply_question", "resume")
        show = invoke("review", "show", str(item["id"]))
        assert show.exit_code == 0, show.output
        assert "Pipedrive" in show.output
        assert "Unsubscribe: https" not in show.output  # quoted history is not shown
        assert "Classified: Question" in show.output
        assert "suggested: Resume the sequence (--action resume)" in show.output

        bad = invoke("review", "resolve", str(item["id"]), "--action", "reclassify:maybe")
        assert bad.exit_code == 1
        assert "Unknown intent 'maybe'" in bad.output
        done = invoke(
            "review",
            "resolve",
            str(item["id"]),
            "--action",
            "reclassify:positive",
            "--note",
            "she wants a call",
        )
        assert done.exit_code == 0, done.output
        after = json.loads(invoke("leads", "show", ADA, "--json").output)
        shown_text = invoke("leads", "show", ADA).output
    finally:
        reset_cli_runtime()
    assert (after["stage"], after["status"]) == ("qualification", "needs_review")
    kinds = [event["kind"] for event in after["timeline"]]
    for kind in ("classified", "paused", "flagged", "resolved", "stage_changed"):
        assert kind in kinds
    assert "stage=qualification  status=needs_review" in shown_text
    assert after["stage_history"][-1]["to"] == "qualification"
