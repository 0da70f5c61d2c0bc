"""Sales acceptance in the reps' web app, in headless Chromium over real HTTP: the queue
ordered by score, a lead's score and why, one lead accepted as SQL and one rejected with a
reason, which the reports page then counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.browser_support import chromium, live_server
from tests.conftest import make_settings
from tests.reply_support import first_touch_after_a_batch, reply_to
from tests.web_support import PASSWORD, add_test_rep
from worker.clock import VirtualClock
from worker.runtime import Runtime, set_runtime
from worker.store.models import Event, Lead, ReviewItem, Touch
from worker.understanding import Classification

ADA = "ada@northwind.test"
KLAUS = "k.mueller@brauhaus-logistik.test"
WHY = [
    {"rule": "visited pricing page", "points": 25, "age_days": 2},
    {"rule": "title: head of sales", "points": 30, "age_days": None},
]


@pytest.fixture
def acceptance_items(
    project: Path, sqlite_url: str, clock: VirtualClock, stub_broker: Any
) -> Iterator[tuple[Runtime, dict[str, int]]]:
    """Ada (score 55) and Klaus (score 80), scored, both replied positively: two items."""
    runtime = Runtime.from_settings(make_settings(project, sqlite_url), clock)
    set_runtime(runtime)
    first_touch_after_a_batch(runtime, project, ADA)
    items: dict[str, int] = {}
    for email, score in ((ADA, 55.0), (KLAUS, 80.0)):
        with runtime.sessions.begin() as session:
            lead = session.scalar(select(Lead).where(Lead.email == email))
            assert lead is not None
            lead.score = score
            lead.score_detail = WHY
            touch = session.scalar(select(Touch).where(Touch.lead_id == lead.id))
            assert touch is not None
            session.expunge(touch)
        reply_to(runtime, touch, Classification("positive", 0.95, text="Yes, let's talk"))
        with runtime.sessions() as session:
            item = session.scalar(
                select(ReviewItem.id).where(
                    ReviewItem.lead_id == touch.lead_id, ReviewItem.reason == "sales_acceptance"
                )
            )
            assert item is not None
            items[email] = item
    add_test_rep(runtime)
    yield runtime, items
    set_runtime(None)
    runtime.close()


def test_a_rep_accepts_one_lead_rejects_another_and_the_report_counts_the_reason(
    acceptance_items: tuple[Runtime, dict[str, int]],
) -> None:
    runtime, items = acceptance_items
    with live_server(runtime) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/login?next=/queue?sort=score%26who=all")
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/queue?sort=score&who=all")

        cards = page.locator("article.queue-item").all_inner_texts()
        ranked = [text for text in cards if ADA in text or KLAUS in text]
        assert KLAUS in ranked[0]  # 80 before 55
        assert ADA in ranked[1]

        ada = page.locator(f"#item-{items[ADA]}")
        assert ada.locator(".queue-score .score").inner_text() == "55"
        assert "visited pricing page" in ada.locator("table.score-why").inner_text()
        accept = ada.locator("form.accept")
        accept.locator("input[name=interested][value=yes]").check()
        accept.locator("input[name=buying_now][value=yes]").check()
        accept.locator("input[name=timeframe]").fill("Q3")
        accept.locator("input[name=decision_maker][value=no]").check()
        accept.locator("input[name=who]").fill("Grace Hopper, CFO")
        accept.get_by_role("button", name="Accept as SQL").click()
        page.wait_for_load_state()
        assert f"{ADA} accepted as SQL" in page.locator(".flash").inner_text()
        assert page.locator(f"#item-{items[ADA]}").count() == 0

        klaus = page.locator(f"#item-{items[KLAUS]}")
        klaus.get_by_label("Reason").select_option("no_budget")
        klaus.get_by_role("button", name="Reject: back to nurture").click()
        page.wait_for_load_state()
        assert f"{KLAUS} back to nurture" in page.locator(".flash").inner_text()
        assert page.locator(f"#item-{items[KLAUS]}").count() == 0

        page.goto(base + "/reports")
        page.wait_for_load_state("networkidle")
        acceptance = page.locator("section.report", has=page.locator("#acceptance"))
        assert "rejected: no_budget" in acceptance.inner_text()
        assert "accepted as SQL" in acceptance.inner_text()
        charts = page.locator("img[src*='/reports/charts/']")
        sources = charts.evaluate_all("imgs => imgs.map(i => i.src)")
        assert any("/charts/acceptance.svg" in src for src in sources), sources
        for src in sources:  # below the fold they load lazily: ask for each
            answer = page.request.get(src)
            assert answer.status == 200, src
            assert answer.text().lstrip().startswith("<?xml"), src
        assert not errors, errors

    with runtime.sessions() as session:
        accepted = session.scalar(select(Lead).where(Lead.email == ADA))
        rejected = session.scalar(select(Lead).where(Lead.email == KLAUS))
        assert accepted is not None
        assert rejected is not None
        assert (accepted.qualification, accepted.owner, accepted.stage) == (
            "sql",
            "rita",
            "consideration",
        )
        assert rejected.qualification == "nurture"
        [event] = session.scalars(select(Event).where(Event.kind == "sql_accepted"))
        assert event.detail["who"] == "Grace Hopper, CFO"
        assert event.detail["timeframe"] == "Q3"


def test_a_missing_answer_leaves_the_item_open_with_a_message(
    acceptance_items: tuple[Runtime, dict[str, int]],
) -> None:
    runtime, items = acceptance_items
    with runtime.sessions.begin() as session:
        session.execute(update(Lead).values(score_detail=None))
    with live_server(runtime) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.goto(base + "/login?next=/queue?who=all")
        page.fill("#name", "rita")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/queue?who=all")
        klaus = page.locator(f"#item-{items[KLAUS]}")
        klaus.get_by_label("Reason").select_option("other")
        klaus.get_by_role("button", name="Reject: back to nurture").click()
        page.wait_for_load_state()
        assert "--note" in page.locator(".flash").inner_text()
        assert page.locator(f"#item-{items[KLAUS]}").count() == 1
