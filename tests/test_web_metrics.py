"""``GET /metrics``: Prometheus text behind a bearer token, read from the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web_support import web_app
from worker.clock import VirtualClock
from worker.delivery.tick import tick
from worker.leads.importing import import_leads
from worker.runtime import Runtime, set_runtime
from worker.settings import Settings

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def metered(settings: Settings, clock: VirtualClock, stub_broker: Any) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(replace(settings, metrics_token=TOKEN), clock)
    set_runtime(runtime)
    yield runtime
    runtime.close()
    set_runtime(None)


def _value(text: str, metric: str, label: str) -> float:
    found = re.search(rf'^{metric}\{{[a-z]+="{re.escape(label)}"\}} ([0-9.e+]+)$', text, re.M)
    assert found, f"{metric}[{label}] not in:\n{text}"
    return float(found.group(1))


def test_metrics_count_touches_review_items_and_limits(metered: Runtime, project: Path) -> None:
    report = import_leads(
        metered.sessions, project / "examples" / "leads.csv", metered.clock, metered.catalog
    )
    assert report.created == 25
    metered.clock.advance(timedelta(hours=3))
    created = len(tick(metered).created)
    assert created > 0
    client = web_app(metered).test_client()

    reply = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert reply.status_code == 200
    assert reply.content_type.startswith("text/plain")
    text = reply.get_data(as_text=True)
    assert _value(text, "outreach_touches", "queued") == created
    limits = {name: spec.daily_limit for name, spec in metered.mailboxes.by_name.items()}
    for name, limit in limits.items():
        if limit:
            assert _value(text, "outreach_mailbox_daily_limit", name) == limit
    assert "# TYPE outreach_review_open gauge" in text
    assert "# TYPE outreach_inbound_messages gauge" in text


def test_metrics_need_the_token_and_do_not_exist_without_one(
    metered: Runtime, runtime: Runtime
) -> None:
    client = web_app(metered).test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    assert web_app(runtime).test_client().get("/metrics").status_code == 404
