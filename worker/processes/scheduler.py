"""``outreach scheduler``: an APScheduler 3.x loop that enqueues due work, reads inboxes and
keeps the report's counters up to date.

One scheduler per deployment (it keeps its jobs in memory; nothing is shared between
processes). Overlapping with a cron ``outreach run`` is harmless: touches are unique per step
and claimed atomically.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from worker.actors import send_touches
from worker.analytics.rollup import refresh
from worker.delivery.tick import tick
from worker.errors import OutreachError
from worker.inbound.inboxes import FetchReport, configured_inboxes
from worker.inbound.ingest import fetch_inboxes
from worker.operations import heartbeats
from worker.operations.process_metrics import SchedulerMetrics, serve_scheduler_metrics
from worker.privacy.retention import purge_configured
from worker.processes.batch import embedded_worker, enqueue, requeue_from_dead_workers
from worker.processes.integrations import dispatch_and_enqueue
from worker.review.evidence import check_sent_folders
from worker.runtime import Runtime, set_runtime
from worker.working.replies import settle_stale

log = logging.getLogger(__name__)

TICK_EVERY_S = 60
# Leads whose report share one job run computes again at most (about 10 s of work), so that
# a big import is taken in over a few minutes and the report page rarely waits for it.
REPORT_LEADS_PER_RUN = 50_000
RAW_MAIL_EVERY_S = 3600  # raw mail retention: once an hour is plenty for a matter of days


def tick_and_enqueue(runtime: Runtime, metrics: SchedulerMetrics | None = None) -> int:
    """One scheduler job run: create due touches and enqueue them; returns how many."""
    started = time.perf_counter()
    requeue_from_dead_workers(runtime, send_touches.broker)
    chunk = runtime.settings.touches_per_message
    result = tick(runtime, hand_off=lambda batch: enqueue(batch, chunk))
    settle_stale(runtime)  # replies from the app left in doubt by a stopped process
    ids = result.to_enqueue
    if metrics is not None:
        metrics.tick_seconds.observe(time.perf_counter() - started)
        metrics.enqueued.inc(len(ids))
        metrics.recovered.labels("unknown").inc(len(result.unknown))
        metrics.recovered.labels("sent").inc(len(result.recovered_sent))
        metrics.last_tick.set_to_current_time()
    if ids or result.unknown or result.completed:
        log.info(
            "tick: %d enqueued (%d new, %d requeued), %d sequences completed, %d claims expired",
            len(ids),
            len(result.created),
            len(result.requeued),
            result.completed,
            len(result.unknown),
        )
    return len(ids)


def report_job(runtime: Runtime, metrics: SchedulerMetrics | None = None) -> int:
    """One report job run: apply the leads changed since the last run to the report's
    counters (``worker.analytics.rollup.refresh``); returns how many."""
    done = refresh(runtime.sessions, limit=REPORT_LEADS_PER_RUN)
    if done:
        log.info("report: %d changed leads counted", done)
    return done


def integrations_job(runtime: Runtime, metrics: SchedulerMetrics | None = None) -> int:
    """One dispatcher run: webhook deliveries and notifications for new events; how many
    were enqueued."""
    found = dispatch_and_enqueue(runtime)
    return len(found.deliveries) + len(found.emails)


def raw_mail_job(runtime: Runtime, metrics: SchedulerMetrics | None = None) -> int:
    """One raw mail retention run (``OUTREACH_RAW_MAIL_RETENTION_DAYS``); how many cleared."""
    return purge_configured(runtime)


def fetch_inboxes_job(
    runtime: Runtime, metrics: SchedulerMetrics | None = None
) -> FetchReport | None:
    """One inbox job run: read the configured inboxes, store and match what is new."""
    started = time.perf_counter()
    try:
        report = fetch_inboxes(runtime)
    except OutreachError as exc:
        log.warning("inboxes not read: %s", exc)
        return None
    finally:
        if metrics is not None:
            metrics.inbox_seconds.observe(time.perf_counter() - started)
    for error in report.errors:
        log.warning("%s", error)
    totals = report.as_dict()
    outcomes: dict[str, int] = totals["statuses"]
    log.info(
        "inboxes: %d read, %d stored%s",
        totals["read"],
        totals["stored"],
        "".join(f", {n} {what}" for what, n in sorted(outcomes.items())),
        extra={"read": totals["read"], "stored": totals["stored"], "outcomes": outcomes},
    )
    check_sent_folders(runtime)  # settle "delivery unknown" touches with evidence
    return report


def build_scheduler(
    runtime: Runtime, every_s: int = TICK_EVERY_S, metrics: SchedulerMetrics | None = None
) -> BlockingScheduler:
    """The scheduler with its jobs: coalesced, one instance at a time, generous misfire grace."""
    scheduler = BlockingScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 5 * every_s},
        timezone="UTC",
    )
    jobs: list[tuple[str, Callable[..., object], int]] = [
        ("tick", tick_and_enqueue, every_s),
        ("report", report_job, every_s),
        ("integrations", integrations_job, every_s),
    ]
    if configured_inboxes(runtime):
        jobs.append(("inbox", fetch_inboxes_job, runtime.settings.inbox_every_s))
    if runtime.settings.raw_mail_retention_days is not None:
        jobs.append(("raw_mail", raw_mail_job, RAW_MAIL_EVERY_S))
    for job_id, job, seconds in jobs:
        scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            args=[runtime, metrics],
            id=job_id,
            next_run_time=None,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=5 * seconds,
        )
    return scheduler


def run_scheduler(
    runtime: Runtime, every_s: int = TICK_EVERY_S, stop: threading.Event | None = None
) -> None:
    """Run until interrupted; without Redis, an in-process worker sends what is enqueued."""
    set_runtime(runtime)
    scheduler = build_scheduler(runtime, every_s, serve_scheduler_metrics())
    for job in scheduler.get_jobs():
        job.modify(next_run_time=datetime.now(scheduler.timezone))
    if stop is not None:
        threading.Thread(
            target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True
        ).start()
    with heartbeats.beating(runtime, "scheduler"):
        if runtime.settings.uses_redis:
            scheduler.start()
            return
        log.warning("REDIS_URL is not set: sending in this process with an embedded worker")
        with embedded_worker(send_touches.broker, runtime.settings.send_threads):
            scheduler.start()
