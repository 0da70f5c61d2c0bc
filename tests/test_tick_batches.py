"""The tick hands each batch of due touches on as soon as the batch is committed.

Sending then starts while later batches are still being created (the scheduler and
``outreach run`` pass ``enqueue`` as the hand-off). Each touch is handed on exactly once, and
only after its row, its enrollment's cleared due time and its ``scheduled`` event are visible
to any other connection. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings
from delivery_support import MakeRuntime, runtime_maker
from sqlalchemy import func, select

from worker.clock import VirtualClock
from worker.delivery.tick import tick
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Touch


@pytest.fixture
def make_runtime(project: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[MakeRuntime]:
    with runtime_maker(project, clock, make_settings) as make:
        yield make


def _visible(runtime: Runtime, ids: list[int]) -> tuple[int, int, int]:
    """From a new connection: queued touches, their enrollments still due, their events."""
    with runtime.sessions() as session:
        queued = session.scalar(
            select(func.count()).where(Touch.id.in_(ids), Touch.status == "queued")
        )
        still_due = session.scalar(
            select(func.count())
            .select_from(Touch)
            .join(Enrollment, Enrollment.id == Touch.enrollment_id)
            .where(Touch.id.in_(ids), Enrollment.next_due_at.is_not(None))
        )
        scheduled = session.scalar(
            select(func.count()).where(Event.touch_id.in_(ids), Event.kind == "scheduled")
        )
    return queued or 0, still_due or 0, scheduled or 0


def test_each_batch_is_handed_on_once_committed(
    make_runtime: MakeRuntime, database_url: str
) -> None:
    runtime = make_runtime(database_url, tick_batch_size=10)
    handed: list[list[int]] = []
    seen: list[tuple[int, int, int]] = []

    def hand_off(batch: list[int]) -> None:
        handed.append(list(batch))
        seen.append(_visible(runtime, batch))

    result = tick(runtime, hand_off=hand_off)

    assert [len(batch) for batch in handed] == [10, 10, 5]  # the 25 sample leads
    assert [ids for batch in handed for ids in batch] == result.created
    assert len(set(result.created)) == 25
    # Every touch was committed, its enrollment no longer due, its event written, before
    # anyone could be asked to send it.
    assert seen == [(len(batch), 0, len(batch)) for batch in handed]
    assert tick(runtime, hand_off=hand_off).created == []  # nothing is created twice
    assert len(handed) == 3


def test_scheduled_events_match_the_touches_created(
    make_runtime: MakeRuntime, database_url: str
) -> None:
    runtime = make_runtime(database_url)  # one batch of 25: written as one JSON document
    created = tick(runtime).created
    with runtime.sessions() as session:
        touches = {t.id: t for t in session.scalars(select(Touch).where(Touch.id.in_(created)))}
        events = list(session.scalars(select(Event).where(Event.kind == "scheduled")))
    assert sorted(e.touch_id for e in events if e.touch_id is not None) == sorted(created)
    for event in events:
        assert event.touch_id is not None
        touch = touches[event.touch_id]
        assert (event.lead_id, event.sequence, event.step_index) == (
            touch.lead_id,
            touch.sequence,
            touch.step_index,
        )
        assert event.cause == "due"
        assert event.detail == {}
        assert event.at == runtime.clock.now()
    assert {t.kind for t in touches.values()} == {"email"}
    assert {t.attempts for t in touches.values()} == {0}
