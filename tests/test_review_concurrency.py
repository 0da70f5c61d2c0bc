"""Two reps resolving the same item at once: one decision is applied, the other is told."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from tests.reply_support import first_touch_after_a_batch, reply_to
from worker.errors import OutreachError
from worker.review.resolutions import resolve_now
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Lead, ReviewItem
from worker.understanding import Classification

ADA = "ada@northwind.test"
RACERS = 4


def _flagged_question(runtime: Runtime, project: Path) -> tuple[int, int]:
    touch = first_touch_after_a_batch(runtime, project, ADA)
    reply_to(runtime, touch, Classification("question", 0.8, text="Does it work with SAP?"))
    with runtime.sessions() as session:
        item = session.scalar(select(ReviewItem.id).where(ReviewItem.lead_id == touch.lead_id))
        assert item is not None
        return touch.lead_id, item


def test_concurrent_resolutions_apply_one_decision(runtime: Runtime, project: Path) -> None:
    lead_id, item_id = _flagged_question(runtime, project)
    barrier = threading.Barrier(RACERS)
    outcomes: list[str] = []

    def race(n: int) -> None:
        barrier.wait()
        try:
            resolve_now(runtime, item_id, "advance", note=f"rep {n}")
            outcomes.append("resolved")
        except OutreachError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcomes.count("resolved") == 1, outcomes
    assert all("already resolved" in o for o in outcomes if o != "resolved"), outcomes
    with runtime.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.stage == "qualification"  # advanced once, not once per rep
        open_enrollments = session.scalars(
            select(Enrollment.sequence).where(
                Enrollment.lead_id == lead_id, Enrollment.status == "active"
            )
        ).all()
        assert open_enrollments == ["qualification"]
        changes = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.lead_id == lead_id, Event.kind.in_(("stage_changed", "resolved")))
        )
        assert changes == 2  # one stage change, one resolution
