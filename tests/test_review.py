"""The review queue: list, show and resolve; every resolution is recorded with time and note."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.cli_support import make_invoke, reset_cli_runtime
from worker.delivery.tick import tick
from worker.errors import OutreachError
from worker.leads.flags import HOT, flag
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.queries.review_queue import list_open, show_item
from worker.review.resolutions import resolve
from worker.store.models import Enrollment, Event, Lead, ReviewItem, Suppression, Touch


def _with_unknown_delivery(runtime, project: Path) -> Touch:
    """25 leads; one touch left 'sending' by a crash, expired to 'unknown' by the next run."""
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    [first, *_] = tick(runtime).to_enqueue
    with runtime.sessions.begin() as session:
        session.execute(
            update(Touch)
            .where(Touch.id == first)
            .values(
                status="sending",
                claim_token="crashed",
                claimed_at=runtime.clock.now() - timedelta(hours=2),
                message_id="<crashed@northwind-analytics.example>",
            )
        )
    summary = run_batch(runtime)
    assert summary.tick.unknown == [first]
    with runtime.sessions() as session:
        return session.get(Touch, first)


def _item_for(runtime, touch: Touch) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(ReviewItem.id).where(ReviewItem.touch_id == touch.id))


def _resolve(runtime, item_id: int, action: str, note: str | None = None):
    with runtime.sessions.begin() as session:
        return resolve(session, runtime.catalog, item_id, action, at=runtime.clock.now(), note=note)


def test_a_touch_confirmed_sent_moves_on_to_the_next_step_and_is_never_resent(
    runtime, project: Path
) -> None:
    touch = _with_unknown_delivery(runtime, project)
    item_id = _item_for(runtime, touch)

    _resolve(runtime, item_id, "sent", note="found it in the sent folder")

    with runtime.sessions() as session:
        item = session.get(ReviewItem, item_id)
        enrollment = session.get(Enrollment, touch.enrollment_id)
        lead = session.get(Lead, touch.lead_id)
        assert (item.resolution, item.note) == ("sent", "found it in the sent folder")
        assert item.resolved_at == runtime.clock.now()
        assert session.get(Touch, touch.id).status == "sent"
        assert enrollment.current_step == 1
        assert enrollment.next_due_at > runtime.clock.now()
        assert lead.status == "active"
    assert run_batch(runtime).totals() == {}  # nothing due again right now
    assert list_open_for(runtime) == []


def list_open_for(runtime) -> list[dict]:
    with runtime.sessions() as session:
        return list_open(session)


def test_a_touch_confirmed_not_sent_goes_out_once_on_the_next_run(runtime, project: Path) -> None:
    touch = _with_unknown_delivery(runtime, project)
    _resolve(runtime, _item_for(runtime, touch), "not-sent")

    assert run_batch(runtime).totals() == {"sent": 1}
    assert run_batch(runtime).totals() == {}
    with runtime.sessions() as session:
        assert session.get(Touch, touch.id).status == "sent"


def test_unsubscribe_suppresses_the_address_and_stops_the_sequence(runtime, project: Path) -> None:
    touch = _with_unknown_delivery(runtime, project)
    resolution = _resolve(runtime, _item_for(runtime, touch), "unsubscribe", note="asked by phone")

    with runtime.sessions() as session:
        lead = session.get(Lead, touch.lead_id)
        assert lead.status == "unsubscribed"
        assert session.scalar(select(Suppression.value)) == lead.email == resolution.lead_email
        assert session.get(Enrollment, touch.enrollment_id).status == "stopped"
        kinds = session.scalars(select(Event.cause).where(Event.kind == "resolved")).all()
        assert kinds == ["unsubscribe"]


@pytest.mark.parametrize(("action", "stage"), [("lost", "lost"), ("won", "won")])
def test_lost_and_won_close_the_lead_at_that_stage(
    runtime, project: Path, action: str, stage: str
) -> None:
    touch = _with_unknown_delivery(runtime, project)
    _resolve(runtime, _item_for(runtime, touch), action)
    with runtime.sessions() as session:
        lead = session.get(Lead, touch.lead_id)
        assert (lead.stage, lead.status) == (stage, "stopped")


def test_advance_moves_the_lead_to_the_next_stage_and_its_sequence(runtime, project: Path) -> None:
    touch = _with_unknown_delivery(runtime, project)
    with runtime.sessions() as session:
        before = session.get(Lead, touch.lead_id).stage
    _resolve(runtime, _item_for(runtime, touch), "advance", note="call booked")
    with runtime.sessions() as session:
        lead = session.get(Lead, touch.lead_id)
        sequences = {
            e.sequence: e.status
            for e in session.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id))
        }
    stages = ["prospecting", "qualification", "consideration", "decision", "delivery", "won"]
    assert lead.stage == stages[stages.index(before) + 1]
    assert lead.status == "active"
    if lead.stage != "won":
        assert sequences[lead.stage] == "active"


def test_the_queue_lists_hot_leads_first_then_the_oldest(runtime, project: Path) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    with runtime.sessions.begin() as session:
        ids = session.scalars(select(Lead.id).order_by(Lead.id)).all()
        flag(session, ids[0], "question", at=runtime.clock.now())
        flag(session, ids[1], "positive", at=runtime.clock.now() + timedelta(hours=1), priority=HOT)
        flag(session, ids[2], "unknown", at=runtime.clock.now() - timedelta(hours=1))
    reasons = [row["reason"] for row in list_open_for(runtime)]
    assert reasons == ["positive", "unknown", "question"]


def test_resolving_twice_or_with_an_unknown_action_is_a_clear_error(runtime, project: Path) -> None:
    touch = _with_unknown_delivery(runtime, project)
    item_id = _item_for(runtime, touch)
    with pytest.raises(OutreachError, match="Unknown action 'promote'"):
        _resolve(runtime, item_id, "promote")
    _resolve(runtime, item_id, "sent")
    with pytest.raises(OutreachError, match="already resolved"):
        _resolve(runtime, item_id, "sent")


def test_the_review_commands_list_show_and_resolve(project: Path, sqlite_url: str, runtime) -> None:
    # Build the state with the service, then drive the commands against the same database.
    del runtime
    invoke = make_invoke(project, sqlite_url)
    try:
        assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
        from worker.runtime import get_runtime

        rt = get_runtime()
        with rt.sessions.begin() as session:
            lead_id = session.scalar(select(Lead.id).where(Lead.email == "ada@northwind.test"))
            flag(session, lead_id, "question", at=rt.clock.now(), detail="asks about pricing")

        listed = invoke("review", "list", "--json")
        [row] = json.loads(listed.output)
        shown = invoke("review", "show", str(row["id"]), "--json")
        resolved = invoke(
            "review", "resolve", str(row["id"]), "--action", "stop", "--note", "not now"
        )
        missing = invoke("review", "resolve", "999", "--action", "stop")
    finally:
        reset_cli_runtime()

    assert row["lead"] == "ada@northwind.test"
    assert row["reason"] == "question"
    assert json.loads(shown.output)["lead_record"]["email"] == "ada@northwind.test"
    assert resolved.exit_code == 0
    assert "resolved" in resolved.output
    assert missing.exit_code == 1
    assert "No review item 999" in missing.output
    assert "Traceback" not in missing.output


def test_show_includes_the_message_an_unmatched_item_is_about(runtime, tmp_path: Path) -> None:
    from worker.inbound.ingest import ingest

    (tmp_path / "m.eml").write_bytes(
        b"From: Stranger <stranger@nowhere.test>\r\nSubject: who are you?\r\n"
        b"Message-ID: <s1@nowhere.test>\r\n\r\nPlease explain.\r\n"
    )
    ingest(runtime, str(tmp_path / "m.eml"))
    [row] = list_open_for(runtime)
    with runtime.sessions() as session:
        data = show_item(session, row["id"])
    assert data["message"]["subject"] == "who are you?"
    assert "Please explain." in data["message"]["text"]
    with pytest.raises(OutreachError, match="belongs to no lead"):
        _resolve(runtime, row["id"], "advance")
    _resolve(runtime, row["id"], "stop", note="spam")
    assert list_open_for(runtime) == []


@pytest.mark.parametrize("action", ["resume", "not-sent", "stop", "lost"])
def test_resolving_an_older_item_never_undoes_an_unsubscribe(
    runtime, project: Path, action: str
) -> None:
    from worker.leads.suppressions import unsubscribe

    touch = _with_unknown_delivery(runtime, project)
    with runtime.sessions.begin() as session:  # the lead unsubscribes while the item waits
        unsubscribe(session, touch.lead_id, at=runtime.clock.now(), cause="web")

    _resolve(runtime, _item_for(runtime, touch), action)

    with runtime.sessions() as session:
        assert session.get(Lead, touch.lead_id).status == "unsubscribed"
    run_batch(runtime)
    with runtime.sessions() as session:
        sent = session.scalars(
            select(Touch.id).where(Touch.lead_id == touch.lead_id, Touch.status == "sent")
        ).all()
    assert sent == []
