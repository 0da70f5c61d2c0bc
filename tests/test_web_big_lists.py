"""Long lists read one page from the database: the leads list stops counting at a bound and
pages on, the review queue reads only the rows it shows, with its filters and their choices
worked out by the database, as the whole list would give them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web_support import signed_in_client
from worker.queries import lead_pages
from worker.queries.review_queue import QueueFilter, filter_choices, list_open, queue_rows
from worker.runtime import Runtime
from worker.store.models import Enrollment, Lead, ReviewItem, Touch


def _leads(runtime: Runtime, count: int) -> None:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        for number in range(count):
            session.add(
                Lead(
                    email=f"lead{number:03}@example.test",
                    company=f"co {number}",
                    stage="prospecting",
                    created_at=now,
                    updated_at=now,
                )
            )


def test_a_list_longer_than_the_count_bound_says_more_than_and_pages_on(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _leads(runtime, 57)
    monkeypatch.setattr(lead_pages, "COUNT_AT_MOST", 20)
    client, _ = signed_in_client(runtime)

    first = client.get("/leads?who=all").get_data(as_text=True)
    assert "More than 20 leads, page 1" in first
    assert "Page 1</span>" in first
    assert 'href="/leads?page=2&amp;who=all"' in first
    second = client.get("/leads?who=all&page=2").get_data(as_text=True)
    assert "lead056@example.test" in second
    assert "lead049@" not in second
    assert 'rel="next"' not in second
    assert 'href="/leads?page=1&amp;who=all"' in second
    beyond = client.get("/leads?who=all&page=9").get_data(as_text=True)  # past the end
    assert "57 leads, page 2 of 2" in beyond
    assert "lead056@example.test" in beyond
    searched = client.get("/leads?who=all&q=lead05").get_data(as_text=True)
    assert "7 leads" in searched  # under the bound: counted exactly


def test_the_lead_page_counts_exactly_up_to_the_bound(runtime: Runtime) -> None:
    _leads(runtime, 12)
    with runtime.sessions() as session:
        exact = lead_pages.leads_page(session, per_page=5, count_at_most=12)
        capped = lead_pages.leads_page(session, per_page=5, count_at_most=11, page=3)
    assert (exact["total"], exact["total_exact"], exact["pages"], exact["has_next"]) == (
        12,
        True,
        3,
        True,
    )
    assert (capped["total"], capped["total_exact"], capped["pages"]) == (11, False, None)
    assert [row["email"] for row in capped["rows"]] == [
        "lead010@example.test",
        "lead011@example.test",
    ]
    assert capped["has_next"] is False


def _queue(runtime: Runtime) -> None:
    """Leads in two stages and mailboxes, items with and without touches, some resolved."""
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        for number in range(12):
            lead = Lead(
                email=f"q{number}@example.test",
                stage="prospecting" if number % 3 else "decision",
                created_at=now,
                updated_at=now,
            )
            session.add(lead)
            session.flush()
            # two enrollments: the open one decides the mailbox, whatever its age
            for status, mailbox, age in (("stopped", "old", 1), ("active", None, 5)):
                session.add(
                    Enrollment(
                        lead_id=lead.id,
                        sequence=f"s{status}",
                        status=status,
                        mailbox=mailbox if number % 2 else ("sales" if status == "active" else "x"),
                        enrolled_at=now - timedelta(days=age),
                    )
                )
            session.flush()
            touch = None
            if number % 4 == 1:
                enrollment = session.scalar(
                    select(Enrollment).where(Enrollment.lead_id == lead.id).limit(1)
                )
                assert enrollment is not None
                touch = Touch(
                    enrollment_id=enrollment.id,
                    lead_id=lead.id,
                    sequence="s",
                    step_index=0,
                    status="unknown",
                    due_at=now,
                    created_at=now,
                    available_at=now,
                    mailbox="success",
                )
                session.add(touch)
                session.flush()
            session.add(
                ReviewItem(
                    lead_id=lead.id,
                    touch_id=touch.id if touch else None,
                    reason=("reply_question", "hot_lead", "delivery_unknown")[number % 3],
                    priority=10 if number % 5 == 0 else 0,
                    created_at=now - timedelta(hours=number),
                    resolved_at=now if number == 7 else None,
                    assignee="rita" if number % 2 else None,
                )
            )
        session.add(ReviewItem(lead_id=None, reason="inbound_unmatched", created_at=now))


def test_the_queue_reads_the_page_it_shows_with_filters_done_by_the_database(
    runtime: Runtime,
) -> None:
    _queue(runtime)
    with runtime.sessions() as session:
        everything = queue_rows(session)
        assert [r["id"] for r in queue_rows(session, limit=4)] == [r["id"] for r in everything[:4]]
        assert [r["id"] for r in everything] == [r["id"] for r in list_open(session)]
        mailboxes = {r["id"]: r["mailbox"] for r in everything}
        assert set(mailboxes.values()) == {"sales", "success", None}  # never the stopped "old"
        for mailbox in ("sales", "success", "old"):
            chosen = queue_rows(session, QueueFilter(mailbox=mailbox))
            assert [r["id"] for r in chosen] == [
                r["id"] for r in everything if r["mailbox"] == mailbox
            ]
        both = queue_rows(session, QueueFilter(mailbox="sales", stage="decision"), limit=2)
        assert [r["id"] for r in both] == [
            r["id"] for r in everything if r["mailbox"] == "sales" and r["stage"] == "decision"
        ][:2]
        choices = filter_choices(session)
    assert choices == {
        "reasons": sorted({r["reason"] for r in everything}),
        "stages": sorted({r["stage"] for r in everything if r["stage"]}),
        "mailboxes": sorted({r["mailbox"] for r in everything if r["mailbox"]}),
    }


def test_a_queue_longer_than_the_bound_offers_every_stage_and_configured_mailbox(
    runtime: Runtime,
) -> None:
    _queue(runtime)
    with runtime.sessions() as session:
        exact = filter_choices(session, ["sales", "spare"])
        broad = filter_choices(session, ["sales", "spare"], exact_up_to=5)
    assert exact["stages"] == ["decision", "prospecting"]
    assert exact["mailboxes"] == ["sales", "success"]
    assert broad["reasons"] == exact["reasons"]  # always those of the items
    assert broad["stages"] == sorted(
        ["prospecting", "qualification", "consideration", "decision", "delivery", "won", "lost"]
    )
    assert broad["mailboxes"] == ["sales", "spare"]
