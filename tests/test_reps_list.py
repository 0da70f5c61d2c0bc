"""``list_reps``: each account with the number of open review items assigned to it."""

from __future__ import annotations

from worker.review.reps import add_rep, list_reps
from worker.runtime import Runtime
from worker.store.models import ReviewItem

PASSWORD = "long enough password"


def test_open_items_are_counted_per_rep_and_resolved_ones_are_not(runtime: Runtime) -> None:
    at = runtime.clock.now()
    with runtime.sessions.begin() as session:
        for name in ("rita", "sam", "tom"):
            add_rep(session, name, PASSWORD, at=at)
        for assignee, resolved in (
            ("rita", None),
            ("rita", None),
            ("rita", at),
            ("sam", None),
            (None, None),
        ):
            session.add(
                ReviewItem(reason="manual", created_at=at, assignee=assignee, resolved_at=resolved)
            )
    with runtime.sessions() as session:
        rows = list_reps(session)
    assert [(row["name"], row["open_items"]) for row in rows] == [
        ("rita", 2),
        ("sam", 1),
        ("tom", 0),
    ]
