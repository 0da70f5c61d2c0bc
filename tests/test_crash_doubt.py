"""Repeated SIGKILLs of real dramatiq worker processes (Redis + PostgreSQL) mid-batch.

The promise: no email twice at the SMTP server, every lead sent or "delivery unknown", and
unknown bounded by what was in flight — at most one touch per sending thread per kill. And no
touch waits for the 15-minute delivery lease or requeue delay: the test's clock never moves, so
everything the killed processes held (claimed touches, fetched queue messages) must be
recovered through their heartbeats.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REDIS_URL, START, make_settings
from delivery_support import (
    BIN,
    Sink,
    import_file,
    redis_workers_setup,
    running_sink,
    start,
    statuses,
    touches,
    wait_until,
    write_renamed_leads,
)

from worker.clock import VirtualClock
from worker.operations import heartbeats
from worker.processes.scheduler import tick_and_enqueue
from worker.runtime import Runtime
from worker.store.models import Lead

KILLS = 3
PROCESSES = 2
THREADS = 2
FINAL = {"sent", "unknown"}


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


def _live_workers(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return len(heartbeats.live(session, runtime.settings))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_sigkilled_workers_leave_in_doubt_only_what_was_in_flight(
    project: Path,
    postgres_url: str,
    redis_namespace: str,
    sink: Sink,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    mailboxes = project / "mailboxes.yaml"  # no daily limits: 400 leads go out today
    mailboxes.write_text(re.sub(r"\n\s+daily_limit: \d+", "", mailboxes.read_text()))
    setup = redis_workers_setup(
        project,
        postgres_url,
        redis_namespace,
        sink,
        clock,
        make_settings,
        START,
        REDIS_URL,
        heartbeat_timeout_s=3,
        touches_per_message=5,  # many queue messages: the killed ones had some fetched
    )
    with setup as (runtime, env):
        _kill_repeatedly(runtime, dict(env, OUTREACH_HEARTBEAT_S="1"), project, sink, tmp_path)


def _kill_repeatedly(
    runtime: Runtime, env: dict[str, str], project: Path, sink: Sink, tmp_path: Path
) -> None:
    emails: list[str] = []
    for copy in range(16):
        target = tmp_path / f"leads-{copy}.csv"
        emails += write_renamed_leads(project, target, f"k{copy}-")
        assert import_file(runtime, target) == 25
    sink.data_delay_s = 0.004  # a relay's pace, so each kill lands mid-batch
    command = [
        str(BIN / "dramatiq"),
        "worker.actors",
        "--processes",
        str(PROCESSES),
        "--threads",
        str(THREADS),
    ]
    log = tmp_path / "workers.log"
    held_at_kill: list[Counter[str]] = []
    workers = None
    try:
        assert tick_and_enqueue(runtime) == 400
        for _ in range(KILLS):
            workers = start(command, env, project, log=log)
            # As under a process manager: the new group is up before the next tick runs.
            wait_until(lambda: _live_workers(runtime) == PROCESSES, 30, "the workers' heartbeats")
            goal = len(sink.recipients()) + 30

            def progressed(goal: int = goal) -> bool:
                tick_and_enqueue(runtime)  # the scheduler: recovers what the killed ones held
                return len(sink.recipients()) >= goal

            wait_until(progressed, 45, f"{goal} messages sent", every_s=0.2)
            _kill_group(workers)
            held_at_kill.append(statuses(runtime))
        workers = start(command, env, project, log=log)

        def settled() -> bool:
            tick_and_enqueue(runtime)
            return set(statuses(runtime)) <= FINAL

        # Well within dramatiq's own recovery of fetched messages (its heartbeat: 60 s).
        wait_until(settled, 45, "every touch sent or delivery unknown", every_s=0.5)
    finally:
        if workers is not None:
            _kill_group(workers)

    counts = sink.counts()
    assert {email: n for email, n in counts.items() if n > 1} == {}
    found = statuses(runtime)
    assert sum(found.values()) == 400
    unknown = [t for t in touches(runtime) if t.status == "unknown"]
    assert len(unknown) <= KILLS * PROCESSES * THREADS, (found, held_at_kill)
    with runtime.sessions() as session:
        lead_of = dict(
            session.execute(Lead.__table__.select().with_only_columns(Lead.id, Lead.email)).all()
        )
    sent = {lead_of[t.lead_id] for t in touches(runtime) if t.status == "sent"}
    assert sent | {lead_of[t.lead_id] for t in unknown} == set(emails)
    assert sent <= set(counts)  # nothing recorded as sent that the server did not accept
    # The kills did leave chunks half done: recovered through heartbeats, not the lease.
    assert sum(held["claimed"] for held in held_at_kill) > 0, held_at_kill
