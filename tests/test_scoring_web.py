"""The web app shows a lead's score with why, and the board orders its cards by score."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from tests.test_scoring_engine import SCORING, _activity, _add_lead
from tests.web_support import signed_in_client
from worker.queries.lead_pages import event_label, event_summary
from worker.scoring.engine import rescore
from worker.store.models import Lead


def _scored(runtime, project: Path) -> list[int]:
    (project / "scoring.yaml").write_text(SCORING, encoding="utf-8")
    ids = [
        _add_lead(runtime, "low@example.test", title="Intern"),
        _add_lead(runtime, "high@example.test"),
        _add_lead(runtime, "none@example.test"),
    ]
    _activity(runtime, ids[1])
    with runtime.sessions.begin() as session:
        rescore(session, runtime, ids[:2], runtime.clock.now())
    with runtime.sessions.begin() as session:
        leads = session.scalars(select(Lead).order_by(Lead.id))
        for lead, value in zip(leads, (9e3, 1e3, 5e3), strict=True):
            lead.deal_value = value
    return ids


def test_the_lead_page_shows_the_score_and_each_rule_with_points_and_age(runtime, project) -> None:
    ids = _scored(runtime, project)
    client, _ = signed_in_client(runtime)

    page = client.get(f"/leads/{ids[1]}").get_data(as_text=True)

    assert '<dd class="score"><data value="90.0">90</data> <span class="badge">MQL</span>' in page
    why = re.search(r'<table class="score-why".*?</table>', page, re.S)
    assert why is not None
    rows = re.findall(
        r"<tr class=\"(\w+)\"><td>([^<]+)</td><td><data value=\"[^\"]+\">([^<]+)<", why.group(0)
    )
    assert rows == [
        ("engagement", "activity webinar_attended", "+60"),
        ("fit", "decision maker", "+20"),
        ("fit", "country in DE, GB", "+10"),
    ]
    assert "0 days" in why.group(0)
    unscored = client.get(f"/leads/{ids[2]}").get_data(as_text=True)
    assert '<dt>Score</dt><dd class="score">—</dd>' in unscored
    assert "score-why" not in unscored


def test_the_board_orders_cards_by_score_when_asked(runtime, project) -> None:
    _scored(runtime, project)
    client, _ = signed_in_client(runtime)

    by_value = client.get("/board").get_data(as_text=True)
    by_score = client.get("/board?order=score").get_data(as_text=True)

    def names(page: str) -> list[str]:
        return re.findall(r'<span class="email muted" title="([^"]+)"', page)

    assert names(by_value) == ["low@example.test", "none@example.test", "high@example.test"]
    assert names(by_score) == ["high@example.test", "low@example.test", "none@example.test"]
    assert '<span class="score" title="score">90</span>' in by_score
    assert "<strong>score</strong>" in by_score


def test_the_timeline_names_scoring_and_acceptance_events_in_words() -> None:
    assert event_label("sql_accepted") == "Accepted as SQL"
    assert event_label("stage_changed") == "Stage changed"
    crossed = event_summary(
        "score_crossed",
        "mql",
        {"score": 70.0, "threshold": 50.0, "rules": [{"rule": "decision maker", "points": 20}]},
    )
    assert crossed == "mql: score 70 reached 50; decision maker (+20)"
    accepted = event_summary(
        "sql_accepted",
        "rep",
        {"by": "rita", "interested": "yes", "buying_now": "no", "decision_maker": "no",
         "who": "Grace, CFO"},
    )  # fmt: skip
    assert accepted == ("by rita: interested yes, buying now no, decision-maker no (Grace, CFO)")
    assert event_summary("sql_rejected", "no_budget", {"by": "sam"}) == "by sam: no budget"
    click = event_summary(
        "link_clicked", "scanner:proofpoint", {"url": "https://example.test/p", "counted": False,
                                                "verdict": "scanner:proofpoint"},
    )  # fmt: skip
    assert click == "https://example.test/p (not counted: scanner:proofpoint)"
