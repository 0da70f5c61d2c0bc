"""Sales acceptance (MQL → SQL): a scored lead's positive reply asks "Accept as SQL?" once;
a rep accepts (SQL, owner, consideration) or rejects with a reason (nurture), from the
command line; concurrent openers open one item."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime
from tests.reply_support import first_touch_after_a_batch, reply_to
from tests.web_support import signed_in_client
from worker.cli.acceptance import REASONS
from worker.leads.stages import change_stage
from worker.qualification import REJECT_REASONS, open_acceptance
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, ReviewItem
from worker.understanding import Classification

ADA = "ada@northwind.test"
RACERS = 6


@pytest.fixture
def invoke(project: Path, database_url: str) -> Iterator[Invoke]:
    yield make_invoke(project, database_url)
    reset_cli_runtime()


def _scored_positive_reply(runtime: Runtime, project: Path, score: float = 72.0) -> int:
    """Ada, scored, replies positively to her first touch; the id of her acceptance item."""
    touch = first_touch_after_a_batch(runtime, project, ADA)
    with runtime.sessions.begin() as session:
        session.execute(update(Lead).where(Lead.id == touch.lead_id).values(score=score))
    reply_to(runtime, touch, Classification("positive", 0.95, text="Sounds great, let's talk"))
    with runtime.sessions() as session:
        items = session.execute(
            select(ReviewItem.id, ReviewItem.reason).where(
                ReviewItem.lead_id == touch.lead_id, ReviewItem.resolved_at.is_(None)
            )
        ).all()
    assert [reason for _, reason in items] == ["sales_acceptance"]  # in place of the flag
    return items[0][0]


def _lead(runtime: Runtime) -> Lead:
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        return lead


def _events(runtime: Runtime, kind: str) -> list[Event]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind)))


def test_a_scored_lead_replying_positively_becomes_an_mql_waiting_for_sales(
    runtime: Runtime, project: Path
) -> None:
    item_id = _scored_positive_reply(runtime, project)
    lead = _lead(runtime)
    assert lead.qualification == "mql"
    assert lead.mql_at == runtime.clock.now()
    assert lead.status == "needs_review"
    with runtime.sessions() as session:
        item = session.get(ReviewItem, item_id)
        assert item is not None
        assert item.detail is not None
        assert item.detail.startswith("Accept as SQL?")
        assert item.suggested_action == "accept-sql"


def test_accepting_from_the_command_line_makes_an_sql_owned_by_the_rep_in_consideration(
    runtime: Runtime, project: Path, invoke: Invoke
) -> None:
    item_id = _scored_positive_reply(runtime, project)
    result = invoke(
        "review", "accept", str(item_id), "--interested", "yes", "--buying-now", "yes",
        "--timeframe", "Q3", "--decision-maker", "no", "--who", "Grace, CFO",
        "--rep", "Rita", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["action"] == "accept-sql"
    assert shown["lead"] == ADA
    assert shown["owner"] == "rita"

    lead = _lead(runtime)
    assert (lead.qualification, lead.stage, lead.owner) == ("sql", "consideration", "rita")
    assert json.loads(invoke("leads", "show", ADA, "--json").output)["owner"] == "rita"
    assert "owner rita" in invoke("leads", "show", ADA).output
    assert lead.sql_at is not None
    assert lead.status == "active"
    with runtime.sessions() as session:
        open_sequences = session.scalars(
            select(Enrollment.sequence).where(
                Enrollment.lead_id == lead.id, Enrollment.status == "active"
            )
        ).all()
    assert open_sequences == ["consideration"]
    [accepted] = _events(runtime, "sql_accepted")
    assert accepted.detail["interested"] == "yes"
    assert accepted.detail["timeframe"] == "Q3"
    assert accepted.detail["who"] == "Grace, CFO"
    assert accepted.detail["owner"] == "rita"


def test_rejecting_needs_a_reason_and_sends_the_lead_back_to_nurture(
    runtime: Runtime, project: Path, invoke: Invoke
) -> None:
    item_id = _scored_positive_reply(runtime, project)
    refused = invoke("review", "reject", str(item_id), "--reason", "other")
    assert refused.exit_code == 1
    assert "--note" in refused.output
    assert "Traceback" not in refused.output
    with runtime.sessions() as session:
        still = session.get(ReviewItem, item_id)
        assert still is not None
        assert still.resolved_at is None

    stage = _lead(runtime).stage
    result = invoke("review", "reject", str(item_id), "--reason", "no_budget")
    assert result.exit_code == 0, result.output
    assert f"resolved #{item_id} (reject-sql) for {ADA}" in result.output
    lead = _lead(runtime)
    assert lead.qualification == "nurture"
    assert lead.stage == stage
    assert lead.sql_at is None
    assert lead.status != "needs_review"
    [rejected] = _events(runtime, "sql_rejected")
    assert rejected.cause == "no_budget"


def test_accepting_asks_who_decides_when_the_person_does_not(
    runtime: Runtime, project: Path, invoke: Invoke
) -> None:
    item_id = _scored_positive_reply(runtime, project)
    result = invoke(
        "review", "accept", str(item_id), "--interested", "yes", "--buying-now", "no",
        "--decision-maker", "no",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--who" in result.output
    assert _lead(runtime).qualification == "mql"


def test_accept_and_reject_answer_only_acceptance_items(
    runtime: Runtime, project: Path, invoke: Invoke
) -> None:
    touch = first_touch_after_a_batch(runtime, project, ADA)
    reply_to(runtime, touch, Classification("question", 0.9, text="Does it do SAP?"))
    with runtime.sessions() as session:
        item_id = session.scalar(select(ReviewItem.id).where(ReviewItem.lead_id == touch.lead_id))
    result = invoke("review", "reject", str(item_id), "--reason", "bad_fit")
    assert result.exit_code == 1
    assert "sales_acceptance" in result.output


def test_an_unscored_lead_replying_positively_keeps_the_plain_flag(
    runtime: Runtime, project: Path
) -> None:
    touch = first_touch_after_a_batch(runtime, project, ADA)
    reply_to(runtime, touch, Classification("positive", 0.95, text="Yes please"))
    with runtime.sessions() as session:
        reasons = session.scalars(
            select(ReviewItem.reason).where(ReviewItem.lead_id == touch.lead_id)
        ).all()
    assert reasons == ["hot_lead"]
    assert _lead(runtime).qualification is None


def test_an_sql_is_not_asked_about_again_and_a_rejected_lead_only_after_a_reply(
    runtime: Runtime, project: Path
) -> None:
    first_touch_after_a_batch(runtime, project, ADA)
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        lead.qualification = "sql"
        assert open_acceptance(session, lead, at, "score: sql_candidate") is None
        lead.qualification = "nurture"
        assert open_acceptance(session, lead, at, "score: sql_candidate") is None
        assert open_acceptance(session, lead, at, "reply: positive") is not None
        assert lead.qualification == "nurture"  # until a rep decides again


def test_concurrent_openers_open_one_acceptance_item(runtime: Runtime, project: Path) -> None:
    first_touch_after_a_batch(runtime, project, ADA)
    barrier = threading.Barrier(RACERS)
    opened: list[int | None] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            barrier.wait(10)  # before the transaction: SQLite's BEGIN IMMEDIATE would queue them
            with runtime.sessions.begin() as session:
                lead = session.scalar(select(Lead).where(Lead.email == ADA))
                assert lead is not None
                opened.append(
                    open_acceptance(session, lead, runtime.clock.now(), "score: sql_candidate")
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    with runtime.sessions() as session:
        items = session.scalars(
            select(ReviewItem.id).where(ReviewItem.reason == "sales_acceptance")
        ).all()
        mqls = session.scalar(select(func.count()).where(Lead.qualification == "mql"))
    assert len(items) == 1
    assert set(opened) == {items[0]}
    assert mqls == 1


def test_the_command_line_offers_exactly_the_rejection_reasons() -> None:
    assert REASONS == REJECT_REASONS


def test_the_web_item_page_asks_the_questions_and_answers_need_the_forms_token(
    runtime: Runtime, project: Path
) -> None:
    item_id = _scored_positive_reply(runtime, project)
    client, token = signed_in_client(runtime)
    page = client.get(f"/queue/{item_id}").get_data(as_text=True)
    assert "Accept as SQL" in page
    assert "In a buying process now?" in page
    assert 'value="no_budget"' in page

    forged = client.post(f"/queue/{item_id}/reject", data={"reason": "no_budget"})
    assert forged.status_code == 400  # no CSRF token
    answered = client.post(
        f"/queue/{item_id}/reject", data={"reason": "no_budget", "csrf_token": token}
    )
    assert answered.status_code == 302
    assert _lead(runtime).qualification == "nurture"


def test_resolving_with_accept_sql_alone_points_to_the_accept_command(
    runtime: Runtime, project: Path, invoke: Invoke
) -> None:
    item_id = _scored_positive_reply(runtime, project)
    result = invoke("review", "resolve", str(item_id), "--action", "accept-sql")
    assert result.exit_code == 1
    assert f"outreach review accept {item_id}" in result.output


def test_a_lead_marked_lost_no_longer_waits_for_sales_acceptance(
    runtime: Runtime, project: Path
) -> None:
    first_touch_after_a_batch(runtime, project, ADA)
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        item_id = open_acceptance(session, lead, at, "score: sql_candidate")
        assert item_id is not None
        change_stage(session, lead, "lost", at=at, cause="decision: no reply")
    with runtime.sessions() as session:
        item = session.get(ReviewItem, item_id)
        assert item is not None
        assert (item.resolution, item.note) == ("skip", "the lead was marked lost")
        resolved = session.scalars(
            select(Event.detail).where(Event.kind == "resolved", Event.lead_id == item.lead_id)
        ).all()
        assert [d["item"] for d in resolved] == [item_id]
