"""The scheduler and the dramatiq workers serve Prometheus metrics on ports of their own:
scraped here from real processes (``outreach scheduler``; ``outreach worker``, dramatiq on
Redis and PostgreSQL) after they did real work."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REDIS_URL, START, free_port, make_settings
from delivery_support import (
    OUTREACH,
    Sink,
    import_file,
    process_env,
    redis_workers_setup,
    running_sink,
    start,
    statuses,
    stop,
    wait_until,
)

from worker.clock import VirtualClock
from worker.delivery.tick import tick
from worker.processes.batch import enqueue
from worker.runtime import Runtime


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


def _value(text: str, pattern: str) -> float:
    found = re.search(rf"^{pattern} ([0-9.e+]+)$", text, re.M)
    assert found, f"{pattern} not in:\n{text[:3000]}"
    return float(found.group(1))


def _serving(port: int) -> bool:
    try:
        _scrape(port)
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_workers_serve_batch_outcomes_and_dramatiq_metrics_on_their_port(
    project: Path,
    postgres_url: str,
    redis_namespace: str,
    sink: Sink,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    port = free_port()
    setup = redis_workers_setup(
        project, postgres_url, redis_namespace, sink, clock, make_settings, START, REDIS_URL
    )
    with setup as (runtime, env):
        env["OUTREACH_WORKER_METRICS_PORT"] = str(port)
        env["OUTREACH_LOG_FORMAT"] = "json"
        command = [OUTREACH, "worker", "--processes", "2", "--threads", "2"]
        workers = start(command, env, project, log=tmp_path / "workers.log")
        try:
            assert import_file(runtime, project / "examples" / "leads.csv") == 25
            enqueue(tick(runtime).to_enqueue, 5)
            wait_until(lambda: statuses(runtime) == {"sent": 25}, 60, "25 touches sent")
            wait_until(lambda: _serving(port), 30, "the workers' metrics server")

            def counted() -> bool:
                text = _scrape(port)
                return 'outreach_worker_touches_total{result="sent"} 25.0' in text

            wait_until(counted, 30, "25 sent touches in the workers' metrics")
            text = _scrape(port)
        finally:
            stop(workers)
    assert _value(text, r"outreach_worker_batch_seconds_count") == 5
    # The worker processes log one JSON object per line, and no migration chatter.
    lines = (tmp_path / "workers.log").read_text().splitlines()
    sent = [json.loads(line) for line in lines if line.startswith("{") and '"sent"' in line]
    assert len([entry for entry in sent if entry.get("event") == "sent"]) == 25
    assert all(isinstance(entry["touch_id"], int) for entry in sent if entry.get("event") == "sent")
    assert not [line for line in lines if "alembic" in line and "INFO" in line]
    assert (
        _value(text, r'dramatiq_messages_total\{actor_name="send_touches",queue_name="outreach"\}')
        == 5
    )


@pytest.mark.slow
def test_the_scheduler_serves_tick_metrics_on_its_port(
    project: Path, sqlite_url: str, sink: Sink, clock: VirtualClock
) -> None:
    runtime = Runtime.from_settings(
        make_settings(project, sqlite_url, transport_url=sink.url), clock
    )
    assert import_file(runtime, project / "examples" / "leads.csv") == 25
    runtime.close()
    port = free_port()
    env = process_env(
        project, sqlite_url, sink.url, START, OUTREACH_SCHEDULER_METRICS_PORT=str(port)
    )
    scheduler = start([OUTREACH, "scheduler"], env, project)
    try:
        wait_until(lambda: _serving(port), 30, "the scheduler's metrics server")
        wait_until(
            lambda: "outreach_tick_seconds_count 1.0" in _scrape(port), 30, "one tick measured"
        )
        text = _scrape(port)
    finally:
        stop(scheduler)
    assert _value(text, "outreach_tick_enqueued_touches_total") == 25
    assert _value(text, "outreach_last_tick_timestamp_seconds") > 1.7e9
    assert 'outreach_recovered_touches_total{outcome="unknown"} 0.0' in text
