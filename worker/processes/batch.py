"""One batch (``outreach run``): tick, enqueue, let the workers send, summarise."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from sqlalchemy import func, select

from worker.actors import send_touches
from worker.broker import QUEUE, requeue_fetched
from worker.delivery.tick import TickResult, tick
from worker.errors import OutreachError
from worker.inbound.inboxes import configured_inboxes
from worker.inbound.ingest import fetch_inboxes
from worker.operations import heartbeats
from worker.privacy.retention import purge_configured
from worker.processes.integrations import dispatch_and_enqueue
from worker.review.evidence import check_sent_folders
from worker.runtime import Runtime, set_runtime
from worker.store.models import Touch
from worker.vocabulary import TouchStatus
from worker.working.replies import settle_stale

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
FINAL = (TouchStatus.SENT, TouchStatus.SKIPPED, TouchStatus.FAILED, TouchStatus.UNKNOWN)


@dataclass
class BatchSummary:
    """The outcome of one batch, per sequence."""

    tick: TickResult
    enqueued: int
    waited: bool
    per_sequence: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_open: int = 0
    problems: list[str] = field(default_factory=list)
    inbox: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    sent_folders: dict[str, Any] | None = None
    raw_mail_cleared: int = 0

    def totals(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for counts in self.per_sequence.values():
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "enqueued": self.enqueued,
            "waited": self.waited,
            "completed_sequences": self.tick.completed,
            "tasks_opened": len(self.tick.tasks_opened),
            "tasks_closed": len(self.tick.tasks_closed),
            "totals": self.totals(),
            "per_sequence": self.per_sequence,
            "expired_claims": len(self.tick.unknown),
            "delivery_unknown_open": self.unknown_open,
            "problems": self.problems,
            "inbox": self.inbox,
            "sent_folders": self.sent_folders,
            "warnings": self.warnings,
            "raw_mail_cleared": self.raw_mail_cleared,
        }


_embedded: dict[int, dramatiq.Worker] = {}
_embedded_lock = threading.Lock()


def embedded_worker_for(broker: dramatiq.Broker, threads: int) -> dramatiq.Worker:
    """The process's in-process worker for ``broker``; started once, kept for later batches."""
    with _embedded_lock:
        worker = _embedded.get(id(broker))
        if worker is None:
            worker = dramatiq.Worker(broker, worker_threads=max(1, threads), worker_timeout=100)
            worker.start()
            _embedded[id(broker)] = worker
        return worker


def stop_embedded_workers() -> None:
    """Stop every in-process worker (at exit, or between tests)."""
    with _embedded_lock:
        workers = list(_embedded.values())
        _embedded.clear()
    for worker in workers:
        worker.stop()


atexit.register(stop_embedded_workers)


@contextmanager
def embedded_worker(broker: dramatiq.Broker, threads: int) -> Iterator[dramatiq.Worker]:
    """An in-process dramatiq worker for the stub broker, for the duration of a block."""
    yield embedded_worker_for(broker, threads)


def enqueue(touch_ids: list[int], chunk: int) -> int:
    """Send the ids to the queue in chunks; return how many messages were sent."""
    messages = 0
    size = max(1, chunk)
    for start in range(0, len(touch_ids), size):
        send_touches.send(touch_ids[start : start + size])
        messages += 1
    return messages


def requeue_from_dead_workers(runtime: Runtime, broker: dramatiq.Broker) -> int:
    """Messages that worker processes known dead had fetched go back to the Redis queue now."""
    with runtime.sessions() as session:
        consumers = heartbeats.dead_consumers(session, runtime.settings)
    moved = requeue_fetched(broker, consumers)
    if moved:
        log.info(
            "requeued %d queue messages fetched by %d stopped worker processes",
            moved,
            len(consumers),
            extra={"messages": moved, "consumers": consumers, "event": "requeued_messages"},
        )
    return moved


def run_batch(
    runtime: Runtime,
    *,
    wait: bool = True,
    wait_timeout_s: float = 3600.0,
    progress: Progress | None = None,
) -> BatchSummary:
    """Run one batch on the installed broker; embedded (stub) batches always wait."""
    set_runtime(runtime)
    with heartbeats.beating(runtime, "run"):
        return _run_batch(runtime, wait=wait, wait_timeout_s=wait_timeout_s, progress=progress)


def _run_batch(
    runtime: Runtime, *, wait: bool, wait_timeout_s: float, progress: Progress | None
) -> BatchSummary:
    broker = send_touches.broker
    embedded = not runtime.settings.uses_redis
    problems = [str(p) for p in runtime.problems if p.severity == "error"]
    inbox, warnings = _read_inboxes(runtime)  # first: a reply stops touches due in this batch
    chunk = runtime.settings.touches_per_message

    def hand_off(batch: list[int]) -> None:
        enqueue(batch, chunk)  # each tick batch goes out as soon as it is committed

    if embedded:
        with embedded_worker(broker, runtime.settings.send_threads):
            result = tick(runtime, hand_off=hand_off)
            ids = result.to_enqueue
            sent_folders = check_sent_folders(runtime)  # settles "delivery unknown"
            _join_embedded(broker, runtime, ids, progress)
        waited = True
    else:
        requeue_from_dead_workers(runtime, broker)
        result = tick(runtime, hand_off=hand_off)
        ids = result.to_enqueue
        sent_folders = check_sent_folders(runtime)  # settles "delivery unknown" with evidence
        waited = wait
        if wait:
            wait_for(runtime, ids, wait_timeout_s, progress)
    settle_stale(runtime)  # replies from the app left in doubt by a stopped process
    dispatch_and_enqueue(runtime)  # webhooks and notifications: only inserts and enqueues
    summary = BatchSummary(
        tick=result, enqueued=len(ids), waited=waited, problems=problems + result.problems
    )
    summary.per_sequence = summarise(runtime, ids)
    summary.unknown_open = count_unknown(runtime)
    summary.inbox, summary.warnings = inbox, warnings
    summary.raw_mail_cleared = purge_configured(runtime)  # OUTREACH_RAW_MAIL_RETENTION_DAYS
    summary.sent_folders = sent_folders.as_dict()
    summary.warnings += [
        f"sent folder of {mailbox} not searched: {why}"
        for mailbox, why in sent_folders.not_searched.items()
        if "no IMAP inbox" not in why
    ]
    totals = summary.totals()
    log.info(
        "run: %d enqueued; %s; %d delivery unknown open",
        len(ids),
        ", ".join(f"{n} {what}" for what, n in sorted(totals.items())) or "nothing sent",
        summary.unknown_open,
        extra={"enqueued": len(ids), "totals": totals, "unknown_open": summary.unknown_open},
    )
    return summary


def _read_inboxes(runtime: Runtime) -> tuple[dict[str, Any] | None, list[str]]:
    """Fetch the configured inboxes; a failure is a warning and never stops sending."""
    try:
        if not configured_inboxes(runtime):
            return None, []
        report = fetch_inboxes(runtime)
    except OutreachError as exc:
        log.warning("inboxes not read: %s", exc)
        return None, [f"inboxes not read: {exc}"]
    return report.as_dict(), report.errors


def _join_embedded(
    broker: dramatiq.Broker, runtime: Runtime, ids: list[int], progress: Progress | None
) -> None:
    if progress is None:
        broker.join(QUEUE, fail_fast=False)  # type: ignore[call-arg]
        return
    while True:
        try:
            broker.join(QUEUE, timeout=250, fail_fast=False)  # type: ignore[call-arg]
            progress(len(ids), len(ids))
            return
        except dramatiq.QueueJoinTimeout:
            progress(len(ids) - _pending(runtime, ids), len(ids))


def wait_for(
    runtime: Runtime, ids: list[int], timeout_s: float, progress: Progress | None = None
) -> bool:
    """Poll the ledger until every touch is settled (or deferred); True when all are."""
    deadline = time.monotonic() + timeout_s
    while True:
        pending = _pending(runtime, ids)
        if progress:
            progress(len(ids) - pending, len(ids))
        if pending == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _pending(runtime: Runtime, ids: list[int]) -> int:
    now = runtime.clock.now()
    pending = 0
    with runtime.sessions() as session:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            pending += (
                session.scalar(
                    select(func.count())
                    .select_from(Touch)
                    .where(
                        Touch.id.in_(chunk),
                        Touch.status.in_(
                            (TouchStatus.CLAIMED, TouchStatus.SENDING, TouchStatus.DELIVERED)
                        )
                        | ((Touch.status == TouchStatus.QUEUED) & (Touch.available_at <= now)),
                    )
                )
                or 0
            )
    return pending


def summarise(runtime: Runtime, ids: list[int]) -> dict[str, dict[str, int]]:
    """Counts per sequence of sent / skipped / failed / unknown / deferred / pending."""
    per: dict[str, dict[str, int]] = {}
    now = runtime.clock.now()
    with runtime.sessions() as session:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            later = (Touch.available_at > now).label("later")
            rows = session.execute(
                select(Touch.sequence, Touch.status, later, func.count())
                .where(Touch.id.in_(chunk))
                .group_by(Touch.sequence, Touch.status, later)
            )
            for sequence, status, is_later, count in rows:
                key = status if status in FINAL else ("deferred" if is_later else "pending")
                counts = per.setdefault(sequence, {})
                counts[key] = counts.get(key, 0) + count
    return per


def count_unknown(runtime: Runtime) -> int:
    """Touches whose delivery is unknown, waiting for a rep to decide."""
    with runtime.sessions() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Touch).where(Touch.status == TouchStatus.UNKNOWN)
            )
            or 0
        )
