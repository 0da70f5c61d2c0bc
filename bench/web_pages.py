"""Web app page times on a big database: prints figures, asserts nothing but status codes.

    .venv/bin/python bench/web_pages.py [--leads N] [--items N] [--database-url URL]

Builds N leads spread over the seven stages (with deal values), each with an enrollment, six
events (created, enrolled, two scheduled, two sent) and a stage change past prospecting,
plus open review items, then times each page through the
real app (Flask test client, a signed-in rep): median of 5 requests after one warm-up.
Default database: a fresh PostgreSQL schema on 127.0.0.1 (dropped afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from datagen import _insert, bulk_enrolled_leads, copy_project, signed_in_client

from worker.clock import VirtualClock
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.models import Event, ReviewItem
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES

STAGES = (*PIPELINE_STAGES, *FINAL_STAGES)
NOISE = (
    ("lead_created", 0),
    ("enrolled", 0),
    ("scheduled", 0),
    ("sent", 0),
    ("scheduled", 3),
    ("sent", 3),
)
PAGES = (
    "/board",
    "/leads",
    "/leads?stage=decision",
    "/leads?q=example",
    "/leads/1",
    "/queue",
    "/queue?reason=reply_question",
    "/reports",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1/test")
    args = parser.parse_args()
    schema = f"bench_web_{uuid.uuid4().hex[:8]}"
    url = args.database_url
    admin = sa.create_engine(url) if url.startswith("postgresql") else None
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{url}?options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = copy_project(Path(tmp) / "project")
            _run(home, url, args.leads, args.items)
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def _run(home: Path, url: str, leads: int, items: int) -> None:
    now = datetime(2027, 3, 1, 9, tzinfo=UTC)
    settings = Settings.from_env(
        {"DATABASE_URL": url, "OUTREACH_SECRET_KEY": "bench", "OUTREACH_TRANSPORT_URL": "console:"},
        home=home,
    )
    runtime = Runtime.from_settings(settings, VirtualClock(now))
    started = time.perf_counter()
    bulk_enrolled_leads(runtime.engine, total=leads, due=0, now=now - timedelta(days=60))
    _spread(runtime, leads, items, now)
    print(
        f"built {leads:,} leads, {items} open review items in {time.perf_counter() - started:.1f} s"
    )
    client = signed_in_client(runtime, now)
    print(f"{'page':32} {'median ms':>10} {'max ms':>8} {'kB':>6}")
    for path in PAGES:
        timings = []
        size = 0
        for attempt in range(6):
            begin = time.perf_counter()
            page = client.get(path)
            elapsed = (time.perf_counter() - begin) * 1000
            if page.status_code != 200:
                sys.exit(f"{path}: HTTP {page.status_code}")
            size = len(page.data)
            if attempt:
                timings.append(elapsed)
        print(
            f"{path:32} {statistics.median(timings):10.1f} {max(timings):8.1f} {size / 1024:6.0f}"
        )
    runtime.close()


def _spread(runtime: Runtime, leads: int, items: int, now: datetime) -> None:
    """Stages round-robin; a stage change per lead past prospecting; open review items."""
    with runtime.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE leads SET stage = CASE MOD(id, 7) "
                + " ".join(f"WHEN {n} THEN '{stage}'" for n, stage in enumerate(STAGES))
                + " END"
            )
        )
        events = []
        for lead_id in range(1, leads + 1):
            stage = STAGES[lead_id % 7]
            start = now - timedelta(days=60)
            for kind, days in NOISE:  # what a lead's log holds besides stage changes
                at = start + timedelta(days=days)
                events.append(
                    {"at": at, "lead_id": lead_id, "kind": kind, "cause": "due", "detail": {}}
                )
            if stage != "prospecting":
                events.append(
                    {
                        "at": now - timedelta(days=lead_id % 50),
                        "lead_id": lead_id,
                        "kind": "stage_changed",
                        "cause": "reply: positive",
                        "detail": {"previous": "prospecting", "stage": stage},
                    }
                )
        for start in range(0, len(events), 20_000):
            _insert(conn, Event, events[start : start + 20_000])
        reasons = ("reply_question", "hot_lead", "reply_referral", "low_confidence")
        _insert(
            conn,
            ReviewItem,
            [
                {
                    "lead_id": 1 + (n * 331) % leads,
                    "reason": reasons[n % len(reasons)],
                    "priority": 10 if n % 4 == 1 else 0,
                    "created_at": now - timedelta(hours=n),
                    "detail": "bench item",
                }
                for n in range(items)
            ],
        )


if __name__ == "__main__":
    main()
