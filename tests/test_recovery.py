"""Touches of a sender that stopped are recovered at once, by what its heartbeat says.

A dead holder's ``claimed`` touches are requeued, its ``delivered`` ones are recorded as sent
(next step scheduled, timeline entry), its ``sending`` one becomes delivery unknown, and what
sat in its in-process queue is enqueued again — all without waiting for the delivery lease.
A live holder's touches are left alone. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings
from delivery_support import MakeRuntime, runtime_maker
from sqlalchemy import select, update

from worker.clock import VirtualClock
from worker.delivery.claiming import Prepared, claim_and_prepare, mark_sending
from worker.delivery.recovery import recover
from worker.delivery.tick import tick
from worker.operations import heartbeats
from worker.runtime import Runtime
from worker.store.models import Enrollment, Event, Heartbeat, ReviewItem, Touch


@pytest.fixture
def make_runtime(project: Path, clock: VirtualClock, stub_broker: Any) -> Iterator[MakeRuntime]:
    with runtime_maker(project, clock, make_settings) as make:
        yield make


def _dead_pid() -> int:
    """The id of a process of this host that has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def _heartbeat(runtime: Runtime, holder: str, pid: int, age_s: float = 0.0) -> None:
    at = heartbeats.wall_now() - timedelta(seconds=age_s)
    with runtime.sessions.begin() as session:
        session.add(
            Heartbeat(
                holder=holder,
                roles="worker",
                host=heartbeats.HOST,
                pid=pid,
                started_at=at,
                beat_at=at,
            )
        )


def _hold(runtime: Runtime, holder: str, ids: list[int], status: str, token: str = "t") -> None:
    with runtime.sessions.begin() as session:
        session.execute(
            update(Touch)
            .where(Touch.id.in_(ids))
            .values(status=status, holder=holder, claim_token=token, claimed_at=runtime.clock.now())
        )


def _statuses(runtime: Runtime) -> dict[int, str]:
    with runtime.sessions() as session:
        return dict(session.execute(select(Touch.id, Touch.status)).all())


def test_a_dead_holders_touches_are_recovered_without_waiting_for_the_lease(
    make_runtime: MakeRuntime, database_url: str
) -> None:
    runtime = make_runtime(database_url)
    ids = sorted(tick(runtime).created)
    assert len(ids) == 25
    # The dead sender claimed a chunk of five, handed one over and had two accepted.
    prepared, _ = claim_and_prepare(runtime, ids[:5], "dead-chunk")
    by_id: dict[int, Prepared] = {p.touch_id: p for p in prepared}
    assert mark_sending(runtime, by_id[ids[0]], "dead-chunk")
    assert mark_sending(runtime, by_id[ids[1]], "dead-chunk", confirm=ids[0])
    assert mark_sending(runtime, by_id[ids[2]], "dead-chunk", confirm=ids[1])
    assert _statuses(runtime)[ids[0]] == "delivered"
    with runtime.sessions.begin() as session:
        session.execute(update(Touch).where(Touch.id.in_(ids[:5])).values(holder="gone:1:x"))
        # ... and two touches sat in its in-process queue.
        session.execute(update(Touch).where(Touch.id.in_(ids[5:7])).values(holder="gone:1:x"))
    # A live sender holds another chunk.
    _heartbeat(runtime, "alive:1:y", os.getpid())
    _hold(runtime, "alive:1:y", ids[7:9], "claimed", "live-chunk")
    _hold(runtime, "alive:1:y", ids[9:10], "sending", "live-chunk")

    found = recover(runtime)

    assert found.dead_holders == {"gone:1:x"}
    assert sorted(found.requeued) == sorted([ids[3], ids[4], ids[5], ids[6]])
    assert found.unknown == [ids[2]]
    assert sorted(found.recorded_sent) == [ids[0], ids[1]]
    now = _statuses(runtime)
    assert [now[i] for i in ids[:5]] == ["sent", "sent", "unknown", "queued", "queued"]
    assert [now[i] for i in ids[7:10]] == ["claimed", "claimed", "sending"]  # alive: untouched
    with runtime.sessions() as session:
        for touch_id in ids[:2]:
            touch = session.get(Touch, touch_id)
            assert touch is not None
            enrollment = session.get(Enrollment, touch.enrollment_id)
            assert enrollment is not None
            assert enrollment.current_step == 1  # the next step is scheduled
            assert enrollment.next_due_at is not None
            assert enrollment.last_message_id == touch.message_id
            assert touch.body_text  # the text as rendered, kept at the claim
            sent = session.scalars(
                select(Event).where(Event.touch_id == touch_id, Event.kind == "sent")
            ).all()
            assert [e.cause for e in sent] == ["recovered"]
        items = session.scalars(
            select(
                ReviewItem.touch_id,
            ).where(ReviewItem.reason == "delivery_unknown")
        ).all()
        assert items == [ids[2]]
        requeued = session.scalars(select(Touch).where(Touch.id.in_(found.requeued))).all()
        assert {(t.holder, t.claim_token, t.enqueued_at) for t in requeued} == {(None, None, None)}
    # The same tick enqueues them again; a second pass finds nothing to do.
    assert set(found.requeued) <= set(tick(runtime).requeued)
    again = recover(runtime)
    assert (again.requeued, again.unknown, again.recorded_sent) == ([], [], [])


def test_a_holder_is_dead_when_its_beat_is_stale_or_its_process_is_gone(
    make_runtime: MakeRuntime, database_url: str
) -> None:
    runtime = make_runtime(database_url, leads=False, heartbeat_timeout_s=30)
    _heartbeat(runtime, "fresh", os.getpid(), age_s=5)
    _heartbeat(runtime, "stale", os.getpid(), age_s=31)
    _heartbeat(runtime, "vanished", _dead_pid(), age_s=0)
    with runtime.sessions() as session:
        dead = heartbeats.dead_among(
            session, runtime.settings, ["fresh", "stale", "vanished", "never-registered"]
        )
        assert dead == {"stale", "vanished", "never-registered"}
        assert [row.holder for row in heartbeats.stale(session, runtime.settings)] == [
            "stale",
            "vanished",
        ]


def test_a_heartbeat_is_written_before_work_and_removed_on_a_clean_exit(
    make_runtime: MakeRuntime, database_url: str
) -> None:
    runtime = make_runtime(database_url, leads=False, heartbeat_s=1)
    replaced = _dead_pid()
    _heartbeat(runtime, f"{heartbeats.HOST}:{replaced}:old", replaced, age_s=60)
    with heartbeats.beating(runtime, "worker") as holder:
        assert heartbeats.current_holder() == holder
        with runtime.sessions() as session:
            rows = {row.holder: row for row in session.scalars(select(Heartbeat))}
        # A restart replaces the dead process of the same role on this host.
        assert list(rows) == [holder]
        assert rows[holder].pid == os.getpid()
        assert rows[holder].roles == "worker"
        first = rows[holder].beat_at
        with heartbeats.beating(runtime, "run"), runtime.sessions() as session:
            row = session.get(Heartbeat, holder)
            assert row is not None
            assert row.roles == "run,worker"

        def beaten() -> bool:
            with runtime.sessions() as session:
                row = session.get(Heartbeat, holder)
                return row is not None and row.beat_at > first

        deadline = heartbeats.wall_now() + timedelta(seconds=10)
        while not beaten():
            assert heartbeats.wall_now() < deadline, "the heartbeat was not renewed"
    assert heartbeats.current_holder() is None
    with runtime.sessions() as session:
        assert session.scalars(select(Heartbeat)).all() == []
