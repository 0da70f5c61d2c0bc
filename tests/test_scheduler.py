"""The scheduler process: APScheduler 3.x that only enqueues, one coalesced job at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from worker.leads.importing import import_leads
from worker.processes.scheduler import (
    build_scheduler,
    report_job,
    run_scheduler,
    tick_and_enqueue,
)
from worker.store.models import ReportDirty, Touch


def test_the_tick_job_is_coalesced_single_instance_with_a_generous_misfire_grace(runtime) -> None:
    scheduler = build_scheduler(runtime, every_s=60)
    job = scheduler.get_job("tick")
    assert job is not None
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.misfire_grace_time >= 60


def test_a_tick_job_run_enqueues_due_touches_once(runtime, project: Path) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    assert tick_and_enqueue(runtime) == 25
    assert tick_and_enqueue(runtime) == 0  # already enqueued: nothing new is due


def test_the_report_job_counts_the_leads_changed_since_it_last_ran(runtime, project: Path) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    assert runtime_job_is_scheduled(runtime, "report")
    assert report_job(runtime) >= 25
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReportDirty)) == 0
    assert report_job(runtime) == 0


def runtime_job_is_scheduled(runtime, job_id: str) -> bool:
    return build_scheduler(runtime, every_s=60).get_job(job_id) is not None


def test_the_embedded_scheduler_sends_what_is_due_and_stops_on_request(
    runtime, project: Path
) -> None:
    import_leads(
        runtime.sessions, project / "examples" / "leads.csv", runtime.clock, runtime.catalog
    )
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(runtime, 60, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    sent = 0
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            sent = session.scalar(
                select(func.count()).select_from(Touch).where(Touch.status == "sent")
            )
        if sent == 25:
            break
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=10)
    assert sent == 25
    assert not thread.is_alive()
    assert len(list((project / "outbox").glob("*.eml"))) == 25
