"""Working leads in the reps' web app, in headless Chromium over real HTTP: a note on a
lead's page, a change of stage to lost (refused without a reason, beside the field, then
done with one), an owner given in bulk to every lead of a filtered list, and a rep (not an
admin) kept out of the admin pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser_support import chromium, live_server
from tests.conftest import make_settings
from tests.web_support import PASSWORD, add_test_rep
from worker.clock import VirtualClock
from worker.leads.importing import import_leads
from worker.runtime import Runtime, set_runtime
from worker.store.models import Event, Lead

ADA = "ada@northwind.test"


@pytest.fixture
def leads_runtime(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any
) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(runtime)
    import_leads(runtime.sessions, project / "examples" / "leads.csv", clock, runtime.catalog)
    add_test_rep(runtime, "rita")
    add_test_rep(runtime, "sam")
    yield runtime
    set_runtime(None)
    runtime.close()


def test_a_rep_notes_loses_a_lead_with_a_reason_and_assigns_a_filtered_list(
    leads_runtime: Runtime,
) -> None:
    runtime = leads_runtime
    with runtime.sessions() as session:
        ada = session.scalar(select(Lead.id).where(Lead.email == ADA))
        deciding = list(
            session.scalars(select(Lead.email).where(Lead.stage == "decision").order_by(Lead.id))
        )
    with live_server(runtime) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/login?next=/leads/{ada}")
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/leads/{ada}")

        page.get_by_label("Note", exact=True).fill("Wants a pilot after the trade fair")
        page.get_by_role("button", name="Add note").click()
        page.wait_for_load_state()
        assert "Note added to ada@northwind.test" in page.locator(".flash").inner_text()
        note = page.locator("li.entry.event.note_added")
        assert "Wants a pilot after the trade fair" in note.inner_text()
        assert "rep: rita" in note.inner_text()

        stage = page.locator("#work-stage")
        stage.get_by_label("Stage").select_option("lost")
        stage.get_by_role("button", name="Change stage").click()
        page.wait_for_load_state()
        beside = page.locator("#work-stage-reason-error")
        assert "a reason is required" in beside.inner_text()
        assert page.locator("#work-stage-reason").get_attribute("aria-invalid") == "true"
        stage = page.locator("#work-stage")
        assert stage.get_by_label("Stage").input_value() == "lost"  # what was chosen stays
        stage.get_by_label("Reason").fill("Chose a competitor")
        stage.get_by_role("button", name="Change stage").click()
        page.wait_for_load_state()
        assert "prospecting → lost (Chose a competitor)" in page.locator(".flash").inner_text()
        facts = page.locator("section.lead-facts").inner_text().lower()
        assert "lost" in facts
        assert "stopped" in facts
        changed = page.locator("li.entry.event.stage_changed").last.inner_text()
        assert "prospecting → lost: Chose a competitor" in changed

        page.goto(f"{base}/leads?who=all")  # everyone's leads (rita owns none)
        filters = page.locator("form.filters")
        filters.get_by_label("Stage").select_option("decision")
        filters.get_by_role("button", name="Filter").click()
        page.wait_for_url("**/leads?stage=decision**")
        bulk = page.locator("form#bulk")
        bulk.get_by_label(f"all {len(deciding)} matching").check()
        bulk.get_by_label("Action").select_option("assign")
        bulk.get_by_label("owner").select_option("sam")
        bulk.get_by_role("button", name="Apply").click()
        page.wait_for_load_state()
        flashed = page.locator(".flash").inner_text()
        assert f"{len(deciding)} leads: {len(deciding)} assigned" in flashed
        assert "stage=decision" in page.url  # back on the same filtered list
        export = page.get_by_role("link", name="Export all matching as CSV")
        answer = page.request.get(base + str(export.get_attribute("href")))
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text())))
        assert [(row["email"], row["owner"]) for row in rows] == [(e, "sam") for e in deciding]
        assert not errors, errors

        # sam is a rep, not an admin: no admin links, and the admin pages answer 403.
        rep_page = browser.new_context().new_page()
        rep_page.set_default_timeout(10_000)
        rep_page.goto(f"{base}/login?next=/leads/{ada}")
        rep_page.fill("#name", "sam")
        rep_page.fill("#password", PASSWORD)
        rep_page.click("button[type=submit]")
        rep_page.wait_for_url(f"**/leads/{ada}")
        nav = rep_page.locator("nav").first.inner_text()
        assert "Leads" in nav
        assert "Reps" not in nav
        assert "Mailboxes" not in nav
        assert rep_page.get_by_role("link", name="Erase this person…").count() == 0
        for admin_only in ("/reps", "/mailboxes", f"/leads/{ada}/erase"):
            refused = rep_page.goto(base + admin_only)
            assert refused is not None
            assert refused.status == 403, admin_only
            assert "Admins only" in rep_page.content()

    with runtime.sessions() as session:
        lead = session.get(Lead, ada)
        assert lead is not None
        assert (lead.stage, lead.status) == ("lost", "stopped")
        owned = list(
            session.scalars(select(Lead.email).where(Lead.owner == "sam").order_by(Lead.id))
        )
        assert owned == deciding
        [lost] = session.scalars(
            select(Event).where(Event.lead_id == ada, Event.kind == "stage_changed")
        )
        assert lost.cause == "rep: rita"
        assert lost.detail["reason"] == "Chose a competitor"
