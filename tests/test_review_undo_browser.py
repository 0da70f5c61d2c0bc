"""The review queue as a rep works it, in headless Chromium over real HTTP: human labels, a
stray Enter in the note that resolves nothing, a resolution, and its Undo."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser_support import chromium, live_server
from tests.conftest import make_settings
from tests.reply_support import reply_to
from tests.web_support import PASSWORD, add_test_rep
from worker.clock import VirtualClock
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime, set_runtime
from worker.store.models import Lead, ReviewItem, Touch
from worker.understanding import Classification

ADA = "ada@northwind.test"
LEADS = """\
email,first_name,last_name,company,stage,timezone
ada@northwind.test,Ada,Winter,Northwind Traders,prospecting,Europe/London
"""


@pytest.fixture
def question_item(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any
) -> Iterator[tuple[Runtime, int]]:
    """Ada asked a question in reply to her first email: one open item."""
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(runtime)
    (project / "one-lead.csv").write_text(LEADS, encoding="utf-8")
    import_leads(runtime.sessions, project / "one-lead.csv", runtime.clock, runtime.catalog)
    run_batch(runtime)
    with runtime.sessions() as session:
        touch = session.scalar(select(Touch))
        assert touch is not None
        session.expunge(touch)
    clock.advance(timedelta(hours=2))
    reply_to(runtime, touch, Classification("question", 0.95, text="How long does it take?"))
    with runtime.sessions() as session:
        item = session.scalar(select(ReviewItem.id).where(ReviewItem.lead_id == touch.lead_id))
        assert item is not None
    add_test_rep(runtime)
    yield runtime, item
    set_runtime(None)
    runtime.close()


def test_a_rep_resolves_an_item_by_its_label_and_undoes_it(
    question_item: tuple[Runtime, int],
) -> None:
    runtime, item = question_item
    with live_server(runtime) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/login?next=/queue?who=all")  # everyone's items, not only mine
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/queue?who=all")

        card = page.locator(f"#item-{item}")
        assert card.locator(".badge.reason").inner_text() == "Reply: question"
        assert card.locator(".badge.intent").inner_text() == "Question"
        assert card.locator("form.suggested button").inner_text() == "Resume the sequence"
        options = card.locator("select[name=action] option").all_inner_texts()
        assert "Mark as a hard bounce" in options
        assert not [o for o in options if ":" in o and o.startswith(("enroll", "reclassify"))]

        # The action chosen, a note typed and Enter pressed in it: nothing is resolved.
        card.locator("select[name=action]").select_option(label="Mark as lost")
        note = card.locator("textarea[name=note]")
        note.fill("budget frozen")
        note.press("Enter")
        assert page.locator(".flash").count() == 0
        assert page.locator(f"#item-{item}").count() == 1
        assert note.input_value() == "budget frozen\n"

        card.get_by_role("button", name="Apply").click()
        page.wait_for_load_state()
        flash = page.locator(".flash.undo")
        assert f"Resolved #{item} as Mark as lost for {ADA}." in flash.inner_text()
        assert page.locator(f"#item-{item}").count() == 0

        flash.get_by_role("button", name="Undo").click()
        page.wait_for_load_state()
        assert f"Undone: #{item} (Mark as lost for {ADA}) is open again." in (
            page.locator(".flash").inner_text()
        )
        assert page.locator(f"#item-{item}").count() == 1

        # The item page of a resolved item offers Undo while the window lasts.
        card = page.locator(f"#item-{item}")
        card.locator("form.suggested button").click()
        page.wait_for_load_state()
        page.goto(base + f"/queue/{item}")
        assert "as Resume the sequence" in page.locator("p.card").inner_text()
        page.locator("form.undo").get_by_role("button", name="Undo").click()
        page.wait_for_load_state()
        assert page.locator(f"#item-{item}").count() == 1
        assert not errors, errors

    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == ADA))
        assert lead is not None
        assert (lead.stage, lead.status) == ("prospecting", "needs_review")
        reopened = session.get(ReviewItem, item)
        assert reopened is not None
        assert reopened.resolved_at is None
