"""The reps' web app in headless Chromium over real HTTP: sign in, resolve a flagged lead,
see it leave the queue and the lead's stage change, open the funnel report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser_support import chromium, live_server
from tests.conftest import make_settings
from tests.reply_support import first_touch_after_a_batch, reply_to
from tests.web_support import PASSWORD, add_test_rep
from worker.clock import VirtualClock
from worker.runtime import Runtime, set_runtime
from worker.store.models import Lead, ReviewItem
from worker.store.tokens import lead_token
from worker.understanding import Classification

ADA = "ada@northwind.test"
QUESTION = "Does it work with SAP? We run S/4HANA."


@pytest.fixture
def flagged(project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any) -> Any:
    """A runtime whose review queue holds Ada's question (and the sample leads' first sends)."""
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(runtime)
    touch = first_touch_after_a_batch(runtime, project, ADA)
    reply_to(runtime, touch, Classification("question", 0.82, text=QUESTION))
    add_test_rep(runtime)
    yield runtime
    set_runtime(None)
    runtime.close()


def _item(runtime: Runtime) -> ReviewItem:
    with runtime.sessions() as session:
        item = session.scalar(
            select(ReviewItem).join(Lead, Lead.id == ReviewItem.lead_id).where(Lead.email == ADA)
        )
        assert item is not None
        return item


def test_a_rep_signs_in_resolves_a_flagged_lead_and_opens_the_funnel(flagged: Runtime) -> None:
    item = _item(flagged)
    with live_server(flagged) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(base + "/")
        assert page.url.startswith(base + "/login")
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/queue")
        assert "Nothing to review assigned to you" in page.locator("main").inner_text()
        page.locator("nav.whose").get_by_role("link", name="Everyone").click()  # not only mine
        page.wait_for_url(base + "/queue?who=all")

        card = page.locator(f"#item-{item.id}")
        assert ADA in card.inner_text()
        assert QUESTION in card.locator("blockquote.reply").inner_text()
        assert "Question" in card.inner_text()
        assert "82% confident" in card.inner_text()

        card.get_by_label(f"Action for #{item.id}").select_option("advance")
        card.locator("textarea[name=note]").fill("asked about SAP; call booked")
        card.get_by_role("button", name="Apply").click()
        page.wait_for_load_state()
        assert f"Resolved #{item.id} as Advance to the next stage" in (
            page.locator(".flash").inner_text()
        )
        assert page.locator(f"#item-{item.id}").count() == 0

        page.goto(base + "/leads?who=all")
        page.get_by_role("link", name=ADA).first.click()
        page.wait_for_load_state()
        text = page.locator("main").inner_text()
        assert "qualification" in text
        assert "asked about SAP; call booked" in text

        page.get_by_role("link", name="Reports").click()
        page.wait_for_load_state("networkidle")
        funnel = page.locator("#funnel")
        assert funnel.is_visible()
        charts = page.locator("img[src*='/reports/charts/']")
        assert charts.count() >= 1
        widths = charts.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
        assert all(widths), widths  # every chart loaded and decoded
        assert not errors, errors  # no CSP violations or script errors

    with flagged.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        assert (lead.stage, lead.status) == ("qualification", "active")
        resolved = session.get(ReviewItem, item.id)
        assert resolved is not None
        assert resolved.resolution == "advance"
        assert resolved.note is not None
        assert "rita" in resolved.note


def test_the_board_clicks_through_to_a_stage_and_a_leads_email_as_sent(flagged: Runtime) -> None:
    with live_server(flagged) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.goto(base + "/login?next=/board")
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/board")

        column = page.locator("#stage-prospecting")
        assert column.is_visible()
        column.get_by_role("link", name="Prospecting").click()
        page.wait_for_url("**/leads?stage=prospecting&who=all")
        page.get_by_role("link", name=ADA).click()
        page.wait_for_load_state()

        email = page.get_by_text("Email as sent").first
        email.click()  # opens the <details>
        sent_text = page.locator("details[open] pre.mail").first.inner_text()
        assert "Ada" in sent_text  # rendered for this lead
        assert "{{" not in sent_text  # no template syntax left


def test_a_german_lead_unsubscribes_on_a_german_page(flagged: Runtime) -> None:
    klaus = "k.mueller@brauhaus-logistik.test"
    with flagged.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == klaus))
        assert lead is not None
        token = lead_token(flagged.secret, lead.id)
    with live_server(flagged) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{base}/u/{token}")
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.locator("h1").inner_text() == "Abmelden?"
        assert page.title().startswith("Abmelden")
        page.get_by_role("button", name="Abmelden").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.get_by_role("status").inner_text() == "Sie sind abgemeldet"
        assert "ist jetzt abgemeldet" in page.locator("main").inner_text()
    with flagged.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == klaus))
        assert lead is not None
        assert lead.status == "unsubscribed"
