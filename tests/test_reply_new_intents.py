"""What the worker does with the replies the reply model taught it to read: "later" with the
day to come back, data-protection requests, departures, a company's other leads, and the
labels reps give replies (training data). On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.reply_support import reply_to, reported_at_the_last_line
from tests.web_support import signed_in_client
from worker.authoring.reply_rules import DEFAULT_RULES
from worker.authoring.schema import OnCompanyReply
from worker.inbound.labels import export_labelled
from worker.leads.capture import capture_lead
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.queries.review_queue import list_open
from worker.review.resolutions import resolve_now
from worker.store.models import Enrollment, Event, InboundMessage, Lead, ReviewItem, Touch
from worker.understanding import INTENTS, Classification

ADA = "ada@northwind.test"  # prospecting, Europe/London
COLLEAGUE = "bo@northwind.test"


def _sent(runtime, project: Path, email: str = ADA) -> Touch:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    run_batch(runtime)
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
        touch = session.scalar(select(Touch).where(Touch.lead_id == lead.id))
        assert touch is not None
        return touch


def _lead(runtime, email: str = ADA) -> Lead:
    with runtime.sessions() as session:
        return session.scalar(select(Lead).where(Lead.email == email))


def _enrollment(runtime, email: str = ADA) -> Enrollment:
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == email))
        return session.scalar(select(Enrollment).where(Enrollment.lead_id == lead.id))


def _items(runtime) -> list[ReviewItem]:
    with runtime.sessions() as session:
        return list(session.scalars(select(ReviewItem).order_by(ReviewItem.id)))


def test_later_pauses_until_the_named_day_gives_a_rep_a_task_then_and_resumes(
    runtime, project: Path
) -> None:
    touch = _sent(runtime, project)  # Monday 2027-01-04
    reply_to(
        runtime,
        touch,
        Classification("later", 0.9, return_date=date(2027, 3, 1), text="Try me in March."),
    )

    lead, enrollment = _lead(runtime), _enrollment(runtime)
    resume = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # 09:00 in London
    assert (lead.status, enrollment.status) == ("paused", "paused")
    assert enrollment.resume_at == resume
    [item] = _items(runtime)
    assert (item.reason, item.suggested_action) == ("reply_later", "resume")
    assert item.due_at is not None
    assert item.due_at.replace(tzinfo=UTC) == resume
    assert "2027-03-01" in (item.detail or "")
    with runtime.sessions() as session:  # one pause on the timeline, with its resume time
        pauses = session.scalars(
            select(Event.cause).where(Event.lead_id == lead.id, Event.kind == "paused")
        ).all()
    assert pauses == ["later: 2027-03-01"]

    runtime.clock.set(resume + timedelta(minutes=5))
    run_batch(runtime)
    assert (_lead(runtime).status, _enrollment(runtime).status) == ("active", "active")


def test_later_without_a_day_waits_the_fallback(runtime, project: Path) -> None:
    touch = _sent(runtime, project)
    at = runtime.clock.now()
    reply_to(runtime, touch, Classification("later", 0.9, text="Not now, maybe later."))
    resume_at = _enrollment(runtime).resume_at
    assert resume_at is not None
    assert resume_at.replace(tzinfo=UTC) == at + timedelta(days=90)


def test_a_data_protection_request_goes_to_a_person_with_its_legal_deadline(
    runtime, project: Path
) -> None:
    touch = _sent(runtime, project)
    at = runtime.clock.now()
    reply_to(
        runtime,
        touch,
        Classification("data_request", 0.9, text="Bitte um Auskunft nach Art. 15 DSGVO."),
    )

    lead = _lead(runtime)
    assert (lead.stage, lead.status) == ("prospecting", "needs_review")  # no sale signal
    assert _enrollment(runtime).status == "paused"
    [item] = _items(runtime)
    assert item.reason == "reply_data_request"
    assert item.due_at is not None
    assert item.due_at.replace(tzinfo=UTC) == at + timedelta(days=30)
    assert item.priority == 0


def test_someone_who_left_stops_and_the_address_they_name_is_offered_as_a_referral(
    runtime, project: Path
) -> None:
    touch = _sent(runtime, project)
    reply_to(
        runtime,
        touch,
        Classification(
            "left_company", 0.9, referral_email="new.person@northwind.test", text="Ada has left."
        ),
    )
    assert _enrollment(runtime).status == "stopped"
    [item] = _items(runtime)
    assert (item.reason, item.suggested_action) == ("reply_left_company", "add-referral")

    resolve_now(runtime, item.id, "add-referral", by="rita")
    assert _lead(runtime, "new.person@northwind.test") is not None
    with runtime.sessions() as session:
        message = session.scalar(select(InboundMessage))
        assert (message.label, message.labelled_by) == ("left_company", "rita")


def _company_rule(runtime, rule: dict[str, object]) -> None:
    loaded = runtime.catalog.sequences["prospecting"]
    rules = OnCompanyReply.model_validate(rule)
    loaded.spec = loaded.spec.model_copy(update={"on_company_reply": rules})


def _colleague(runtime, email: str = COLLEAGUE) -> None:
    with runtime.sessions.begin() as session:
        capture_lead(
            session,
            runtime.catalog,
            {"email": email, "company": "Northwind Traders"},
            sequence="prospecting",
            at=runtime.clock.now(),
            source="test",
        )


def test_a_yes_from_one_contact_pauses_and_flags_the_colleagues_at_the_same_company(
    runtime, project: Path
) -> None:
    touch = _sent(runtime, project)
    _colleague(runtime)
    _colleague(runtime, "someone@gmail.com")
    _company_rule(runtime, {"match": "domain", "positive": ["pause", "flag"]})

    reply_to(runtime, touch, Classification("positive", 0.9, text="Sounds good."))

    assert _enrollment(runtime, COLLEAGUE).status == "paused"
    assert _lead(runtime, COLLEAGUE).status == "needs_review"
    assert _enrollment(runtime, "someone@gmail.com").status == "active"  # not a colleague
    with runtime.sessions() as session:
        reasons = {row["reason"]: row["lead"] for row in list_open(session)}
    assert reasons["colleague_replied"] == COLLEAGUE


def test_without_a_company_rule_colleagues_go_on(runtime, project: Path) -> None:
    touch = _sent(runtime, project)
    _colleague(runtime)
    _company_rule(runtime, {})  # the example sequence pauses colleagues on a yes
    reply_to(runtime, touch, Classification("positive", 0.9, text="Sounds good."))
    assert _enrollment(runtime, COLLEAGUE).status == "active"


def test_a_company_rule_by_company_field_reaches_other_domains(runtime, project: Path) -> None:
    touch = _sent(runtime, project)  # Ada's company field is "Northwind Traders"
    _colleague(runtime, "x@northwind-holding.test")
    _company_rule(runtime, {"match": "company", "negative": "pause"})
    reply_to(runtime, touch, Classification("negative", 0.9, text="No thanks."))
    assert _enrollment(runtime, "x@northwind-holding.test").status == "paused"
    assert _lead(runtime, "x@northwind-holding.test").status == "paused"


def test_a_reps_reclassification_is_exported_as_a_labelled_example(
    runtime, project: Path, tmp_path: Path
) -> None:
    touch = _sent(runtime, project)
    reply_to(runtime, touch, Classification("question", 0.3, text="hmm, März vielleicht"))
    [item] = _items(runtime)
    resolve_now(runtime, item.id, "reclassify:later", by="rita")

    assert export_labelled(runtime.sessions, tmp_path / "labelled") == 1
    with (tmp_path / "labelled" / "labels.csv").open(newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["intent"], row["labelled_by"]) == ("later", "rita")
    assert (tmp_path / "labelled" / row["file"]).read_bytes() == b"Subject: re\r\n\r\nbody"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("  positive: [pause, shout]\n", "action 'shout' is not one of: pause, flag, stop"),
        ("  match: department\n", "on_company_reply.match"),
        ("  positve: pause\n", "did you mean 'positive'"),
    ],
)
def test_bad_company_rules_are_reported_with_file_and_line(
    project: Path, rule: str, message: str
) -> None:
    path = project / "sequences" / "prospecting.yaml"
    example = path.read_text(encoding="utf-8")
    text = example[: example.index("on_company_reply:")] + "on_company_reply:\n" + rule
    reported_at_the_last_line(project, text, message)


def test_the_queue_page_shows_when_a_later_reply_is_due(runtime, project: Path) -> None:
    touch = _sent(runtime, project)
    reply_to(
        runtime,
        touch,
        Classification("later", 0.9, return_date=date(2027, 3, 1), text="Try me in March."),
    )
    client, _ = signed_in_client(runtime)
    page = client.get("/queue?who=all").text
    assert "Due 2027-03-01 09:00 UTC" in page


def test_every_intent_has_a_default_rule_so_no_reply_is_left_without_one() -> None:
    assert set(DEFAULT_RULES) == set(INTENTS)
