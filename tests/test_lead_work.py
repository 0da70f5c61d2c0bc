"""Working a lead (``worker.working``) on SQLite and PostgreSQL: every action a rep takes on
one lead — its change, its refusals and the event it leaves on the timeline — and the bulk
actions and CSV export over the leads list's filter."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.web_support import add_test_rep
from worker.errors import FieldError, NotFoundError, RefusedError
from worker.leads.importing import import_leads
from worker.leads.lifecycle import open_enrollments, suppress
from worker.queries.lead_pages import LeadFilter, lead_page
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead
from worker.working import lead_actions as work
from worker.working.bulk import apply_to_leads, export_csv

ADA = "ada@northwind.test"
KLAUS = "k.mueller@brauhaus-logistik.test"
SABINE = "s.schneider@alpenwerk.test"


@pytest.fixture
def leads(runtime: Runtime, project: Path) -> Runtime:
    """The example leads imported and enrolled in prospecting; reps rita and sam."""
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    add_test_rep(runtime, "rita")
    add_test_rep(runtime, "sam")
    return runtime


def _events(runtime: Runtime, email: str) -> list[Event]:
    with runtime.sessions() as session:
        lead_id = session.scalar(select(Lead.id).where(Lead.email == email))
        return list(
            session.scalars(select(Event).where(Event.lead_id == lead_id).order_by(Event.id))
        )


def test_every_action_changes_the_lead_with_an_event_by_the_rep_and_refusals_change_nothing(
    leads: Runtime,
) -> None:
    runtime, now = leads, leads.clock.now()
    catalog = runtime.catalog
    with runtime.sessions.begin() as s:
        lead = work.find_lead(s, "  ADA@Northwind.test ")
        assert work.find_lead(s, str(lead.id)) is lead
        ada = lead.id
        later = now + timedelta(days=3)
        paused = work.pause(s, lead, at=now, by="rita", until=later)
        assert paused.changed
        assert lead.status == "paused"
        assert not work.pause(s, lead, at=now, by="rita", until=later).changed
        assert work.resume(s, lead, at=now, by="rita").changed
        assert lead.status == "active"
        assert not work.resume(s, lead, at=now, by="rita").changed
        assert work.add_note(s, lead, " Asked for pricing ", at=now, by="rita").changed
        assert work.log_call(s, lead, "connected", note="Pilot in March", at=now, by="rita").changed
        edited = work.update_fields(
            s,
            lead,
            {
                "company": "Northwind Ltd",
                "country": "de",
                "deal_value": "42,500",
                "crm": "Pipedrive",
            },
            at=now,
            by="rita",
        )
        assert edited.changed
        assert (lead.company, lead.country, lead.deal_value) == ("Northwind Ltd", "DE", 42500.0)
        assert lead.fields["crm"] == "Pipedrive"
        assert not work.update_fields(
            s, lead, {"company": "Northwind Ltd"}, at=now, by="rita"
        ).changed
        assert work.update_fields(s, lead, {"crm": ""}, at=now, by="rita").changed
        assert "crm" not in lead.fields
        assert work.set_owner(s, lead, "Rita", at=now, by="sam").changed
        assert lead.owner == "rita"
        moved = work.enroll(s, catalog, lead, "qualification", at=now, by="rita")
        assert "stopped prospecting" in moved.message
        assert [e.sequence for e in open_enrollments(s, ada)] == ["qualification"]
        staged = work.change_stage(
            s, catalog, lead, "consideration", reason=None, at=now, by="rita"
        )
        assert "now in 'consideration'" in staged.message
        assert [e.sequence for e in open_enrollments(s, ada)] == ["consideration"]
        assert work.stop(s, lead, at=now, by="rita", reason="asked to wait").changed
        assert lead.status == "stopped"
        assert not open_enrollments(s, ada)
        lost = work.change_stage(
            s, catalog, lead, "lost", reason="Chose a rival", at=now, by="rita"
        )
        assert lost.changed
        assert lead.stage == "lost"

    kinds = [(e.kind, e.cause) for e in _events(runtime, ADA)]
    assert ("paused", "rep: rita") in kinds
    assert ("resumed", "rep: rita") in kinds
    for kind in ("note_added", "call_logged", "fields_changed", "enrolled", "sequence_stopped"):
        assert (kind, "rep: rita") in kinds, kind
    assert ("owner_changed", "rep: sam") in kinds
    stages = [e for e in _events(runtime, ADA) if e.kind == "stage_changed"]
    assert stages[-1].detail == {
        "previous": "consideration",
        "stage": "lost",
        "reason": "Chose a rival",
    }
    [call] = [e for e in _events(runtime, ADA) if e.kind == "call_logged"]
    assert call.detail["outcome"] == "connected"  # what scoring rules read
    with runtime.sessions() as s:
        page = lead_page(s, ada)
    words = {
        entry["label"]: entry["summary"] for entry in page["entries"] if entry["type"] == "event"
    }
    assert words["Note"] == "Asked for pricing"
    assert words["Call logged"] == "connected: Pilot in March"
    assert words["Owner changed"] == "nobody → rita"
    assert "consideration → lost: Chose a rival" in words["Stage changed"]
    assert any(
        "company: Northwind Traders → Northwind Ltd" in e["summary"]
        for e in page["entries"]
        if e.get("label") == "Fields edited"
    )

    # Refusals: each names what is wrong, and the lead is left as it was.
    with runtime.sessions.begin() as s:
        lead = work.find_lead(s, KLAUS)
        with pytest.raises(NotFoundError, match="did you mean 'qualification'"):
            work.enroll(s, catalog, lead, "qualifcation", at=now, by="rita")
        work.stop(s, lead, at=now, by="rita")
        with pytest.raises(RefusedError, match="went through 'prospecting' before") as before:
            work.enroll(s, catalog, lead, "prospecting", at=now, by="rita")
        assert before.value.why == "in this sequence before"
        with pytest.raises(FieldError) as missing:
            work.change_stage(s, catalog, lead, "won", reason=" ", at=now, by="rita")
        assert missing.value.field == "reason"
        with pytest.raises(FieldError, match="did you mean 'decision'"):
            work.change_stage(s, catalog, lead, "decison", reason=None, at=now, by="rita")
        with pytest.raises(FieldError) as zone:
            work.update_fields(s, lead, {"timezone": "Mars/Olympus"}, at=now, by="rita")
        assert zone.value.field == "timezone"
        with pytest.raises(FieldError) as email:
            work.update_fields(s, lead, {"email": "x@example.com"}, at=now, by="rita")
        assert email.value.field == "email"
        with pytest.raises(FieldError) as outcome:
            work.log_call(s, lead, "busy", note=None, at=now, by="rita")
        assert outcome.value.field == "outcome"
        with pytest.raises(FieldError):
            work.add_note(s, lead, "   ", at=now, by="rita")
        with pytest.raises(FieldError) as until:
            work.pause(s, lead, at=now, by="rita", until=now - timedelta(hours=1))
        assert until.value.field == "until"
        with pytest.raises(RefusedError, match="nothing to pause"):
            work.pause(s, lead, at=now, by="rita")
        with pytest.raises(NotFoundError, match="No rep 'ritta' — did you mean 'rita'\\?"):
            work.set_owner(s, lead, "ritta", at=now, by="rita")
        sabine = work.find_lead(s, SABINE)
        suppress(s, SABINE, reason="manual", at=now)
        with pytest.raises(RefusedError, match="suppression list") as suppressed:
            work.enroll(s, catalog, sabine, "qualification", at=now, by="rita")
        assert suppressed.value.why == "suppressed"
        with pytest.raises(NotFoundError, match="No lead with email"):
            work.find_lead(s, "nobody@example.com")
    with runtime.sessions() as s:
        klaus = s.scalar(select(Lead).where(Lead.email == KLAUS))
        assert klaus is not None
        assert (klaus.stage, klaus.timezone, klaus.owner) == ("prospecting", "Europe/Berlin", None)
    assert not [e for e in _events(runtime, KLAUS) if e.kind in ("note_added", "fields_changed")]


def test_bulk_actions_apply_to_the_filtered_leads_in_chunks_and_export_them(
    leads: Runtime, project: Path
) -> None:
    runtime, now = leads, leads.clock.now()
    with runtime.sessions() as s:
        everyone = list(s.scalars(select(Lead.email).order_by(Lead.id)))
        prospects = list(
            s.scalars(select(Lead.email).where(Lead.stage == "prospecting").order_by(Lead.id))
        )
    germans = LeadFilter(search="alpenwerk")
    assigned = apply_to_leads(
        runtime.sessions,
        runtime.catalog,
        LeadFilter(),
        "assign",
        owner="sam",
        at=now,
        by="rita",
        chunk=2,
    )
    assert (assigned.done, assigned.matched) == (len(everyone), len(everyone))
    with runtime.sessions.begin() as s:
        suppress(s, SABINE, reason="manual", at=now)
        work.stop(s, work.find_lead(s, ADA), at=now, by="rita")
    paused = apply_to_leads(
        runtime.sessions,
        runtime.catalog,
        LeadFilter(status="active"),
        "pause",
        at=now,
        by="rita",
        chunk=2,
    )
    assert paused.done == len(everyone) - 1
    assert not paused.skipped
    enrolled = apply_to_leads(
        runtime.sessions,
        runtime.catalog,
        LeadFilter(),
        "enroll",
        sequence="qualification",
        at=now,
        by="rita",
        chunk=3,
    )
    assert enrolled.skipped == {"suppressed": 1}
    assert enrolled.done + enrolled.unchanged == len(everyone) - 1  # some were in it already
    assert "1 suppressed" in enrolled.summary()
    with runtime.sessions() as s:
        open_now = s.scalars(select(Enrollment.sequence).where(Enrollment.status == "active"))
        assert set(open_now) == {"qualification"}
        moved = s.scalars(
            select(Event.kind).where(Event.cause == "rep: rita", Event.sequence == "prospecting")
        )
        assert "sequence_stopped" in set(moved)  # the sequence they were in, stopped
        assert set(s.scalars(select(Lead.owner))) == {"sam"}
    with pytest.raises(NotFoundError):
        apply_to_leads(
            runtime.sessions,
            runtime.catalog,
            germans,
            "assign",
            owner="nobody-here",
            at=now,
            by="rita",
        )

    text = "".join(export_csv(runtime.sessions, LeadFilter(stage="prospecting"), chunk=2))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["email"] for row in rows] == prospects
    assert rows[0]["company"] == "Northwind Traders"
    assert rows[0]["deal_value"] == "24000"
    assert rows[0]["owner"] == "sam"
    assert rows[0]["crm"] == "Salesforce"
    again = project / "again.csv"
    again.write_text(text, encoding="utf-8")
    report = import_leads(runtime.sessions, again, runtime.clock, runtime.catalog, enroll=False)
    assert (report.rows, report.updated, report.errors) == (len(prospects), len(prospects), [])
