"""Prometheus metrics of the scheduler and the dramatiq workers, each on a port of its own.

- ``OUTREACH_SCHEDULER_METRICS_PORT``: ``outreach scheduler`` serves ``/metrics`` there — tick
  and inbox-poll durations, touches enqueued, touches recovered from stopped senders, and the
  time of the last tick.
- ``OUTREACH_WORKER_METRICS_PORT``: ``outreach worker`` serves dramatiq's own Prometheus
  metrics (messages, errors, retries, durations, in progress) there, with the outcomes of the
  send batches (``outreach_worker_touches_total{result}``) and their duration, gathered from
  every worker process by dramatiq's exporter (a bare ``dramatiq worker.actors`` does the same
  when ``dramatiq_prom_port``, ``dramatiq_prom_host`` and ``dramatiq_prom_db`` are set).

Both bind ``OUTREACH_METRICS_HOST`` (127.0.0.1). The database figures (touches by status,
review queue, mailbox usage, heartbeats) are the web app's ``/metrics``.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter as Counts
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq

DEFAULT_HOST = "127.0.0.1"


@dataclass
class SchedulerMetrics:
    """The scheduler's instruments, in a registry of their own."""

    registry: Any
    tick_seconds: Any
    inbox_seconds: Any
    enqueued: Any
    recovered: Any
    last_tick: Any


def serve_scheduler_metrics(env: dict[str, str] | None = None) -> SchedulerMetrics | None:
    """Start the scheduler's metrics server when ``OUTREACH_SCHEDULER_METRICS_PORT`` is set."""
    env = dict(os.environ) if env is None else env
    port = env.get("OUTREACH_SCHEDULER_METRICS_PORT")
    if not port:
        return None
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

    registry = CollectorRegistry()
    metrics = SchedulerMetrics(
        registry=registry,
        tick_seconds=Histogram("outreach_tick_seconds", "Duration of one tick.", registry=registry),
        inbox_seconds=Histogram(
            "outreach_inbox_poll_seconds", "Duration of one read of the inboxes.", registry=registry
        ),
        enqueued=Counter(
            "outreach_tick_enqueued_touches", "Touches enqueued by the ticks.", registry=registry
        ),
        recovered=Counter(
            "outreach_recovered_touches",
            "Touches of stopped senders recovered by the ticks, by what became of them.",
            ["outcome"],
            registry=registry,
        ),
        last_tick=Gauge(
            "outreach_last_tick_timestamp_seconds",
            "Unix time of the last finished tick.",
            registry=registry,
        ),
    )
    start_http_server(
        int(port), addr=env.get("OUTREACH_METRICS_HOST") or DEFAULT_HOST, registry=registry
    )
    return metrics


class WorkerMetrics(dramatiq.Middleware):
    """Send-batch outcomes and durations of a dramatiq worker process, in dramatiq's shared
    (multi-process) Prometheus store; created after dramatiq's own middleware set it up."""

    def __init__(self) -> None:
        self.touches: Any = None
        self.batch_seconds: Any = None

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        from prometheus_client import Counter, Histogram

        self.touches = Counter(
            "outreach_worker_touches", "Touches handled by send batches, by result.", ["result"]
        )
        self.batch_seconds = Histogram(
            "outreach_worker_batch_seconds", "Duration of one send batch (one queue message)."
        )

    def observe(self, results: Counts[str], seconds: float) -> None:
        if self.touches is None:
            return
        for result, count in results.items():
            self.touches.labels(result).inc(count)
        self.batch_seconds.observe(seconds)


WORKER_METRICS = WorkerMetrics()


def worker_env(env: dict[str, str]) -> dict[str, str]:
    """dramatiq's exporter settings for ``OUTREACH_WORKER_METRICS_PORT``: they must be in the
    environment of the whole ``dramatiq`` process tree, so ``outreach worker`` sets them before
    it starts dramatiq (with a bare ``dramatiq worker.actors``, set them yourself)."""
    port = env.get("OUTREACH_WORKER_METRICS_PORT")
    if not port:
        return {}
    return {
        "dramatiq_prom_port": port,
        "dramatiq_prom_host": env.get("OUTREACH_METRICS_HOST") or DEFAULT_HOST,
        "dramatiq_prom_db": str(Path(tempfile.gettempdir()) / f"outreach-prometheus-{port}"),
    }


def worker_metrics_middleware(env: dict[str, str] | None = None) -> list[dramatiq.Middleware]:
    """dramatiq's Prometheus middleware and ours when its exporter is configured
    (``dramatiq_prom_port``; only for a ``dramatiq`` command: they need its process boot)."""
    env = dict(os.environ) if env is None else env
    if not env.get("dramatiq_prom_port"):
        return []
    from dramatiq.middleware.prometheus import Prometheus

    # ``emit_after`` runs middleware last to first: dramatiq's sets up the shared store first.
    return [WORKER_METRICS, Prometheus()]


__all__ = [
    "WORKER_METRICS",
    "SchedulerMetrics",
    "WorkerMetrics",
    "serve_scheduler_metrics",
    "worker_env",
    "worker_metrics_middleware",
]
