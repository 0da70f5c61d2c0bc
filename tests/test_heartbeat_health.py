"""A process that stops beating shows as failing in ``/healthz``, ``outreach check`` and
``/metrics``; a live one does not. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.cli_support import reset_cli_runtime
from tests.web_support import web_app
from worker.cli import main
from worker.clock import VirtualClock
from worker.operations import heartbeats
from worker.runtime import Runtime, set_runtime
from worker.settings import Settings
from worker.store.models import Heartbeat

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def runtime(settings: Settings, clock: VirtualClock, stub_broker: Any) -> Iterator[Runtime]:
    made = Runtime.from_settings(replace(settings, metrics_token=TOKEN), clock)
    set_runtime(made)
    yield made
    made.close()
    set_runtime(None)


def _register(runtime: Runtime, holder: str, roles: str, age_s: float) -> None:
    at = heartbeats.wall_now() - timedelta(seconds=age_s)
    with runtime.sessions.begin() as session:
        session.add(
            Heartbeat(
                holder=holder,
                roles=roles,
                host="another-host.example",  # not this host: only the beat's age counts
                pid=os.getpid(),
                started_at=at,
                beat_at=at,
            )
        )


def test_healthz_fails_naming_a_process_that_stopped_beating(runtime: Runtime) -> None:
    client = web_app(runtime).test_client()
    _register(runtime, "sched:1:a", "scheduler", age_s=2)
    assert client.get("/healthz").status_code == 200

    _register(runtime, "work:2:b", "worker", age_s=95)
    reply = client.get("/healthz")

    assert reply.status_code == 503
    text = reply.get_data(as_text=True)
    assert "worker work:2:b (pid" in text
    assert "last beat 95 s ago" in text
    assert "sched:1:a" not in text


def test_metrics_show_each_heartbeats_age_and_the_stale_count(runtime: Runtime) -> None:
    _register(runtime, "sched:1:a", "scheduler", age_s=2)
    _register(runtime, "work:2:b", "run,worker", age_s=95)
    client = web_app(runtime).test_client()

    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(
        as_text=True
    )

    ages = dict(
        re.findall(
            r'^outreach_heartbeat_age_seconds\{holder="([^"]+)",[^}]*\} ([0-9.e+]+)$', text, re.M
        )
    )
    assert set(ages) == {"sched:1:a", "work:2:b"}
    assert 1 <= float(ages["sched:1:a"]) < 30
    assert 94 <= float(ages["work:2:b"]) < 130
    assert re.search(r"^outreach_processes_stale 1\.0$", text, re.M), text


def test_check_fails_on_a_stale_heartbeat_and_lists_the_live_ones(
    runtime: Runtime, project: Path, database_url: str
) -> None:
    _register(runtime, "sched:1:a", "scheduler", age_s=1)
    _register(runtime, "work:2:b", "worker", age_s=300)
    env = {"DATABASE_URL": database_url, "REDIS_URL": None}
    try:
        result = CliRunner().invoke(main, ["--home", str(project), "check", "--json"], env=env)
    finally:
        reset_cli_runtime()
    rows = [row for row in json.loads(result.output) if row["part"] == "processes"]
    assert result.exit_code == 1
    failing = [row["detail"] for row in rows if not row["ok"]]
    assert len(failing) == 1
    assert failing[0].startswith("worker work:2:b (pid")
    assert "restart it" in failing[0]
    assert [row["detail"] for row in rows if row["ok"]] == ["1 alive (scheduler)"]
