"""The boot of a ``dramatiq worker.actors`` process: its heartbeat and its metrics (its logging
is set up first thing by ``worker.actors``, before any import logs).

``worker.actors`` adds these to the broker when it is imported by the ``dramatiq`` command (the
master and each worker process); other processes that import the actors only to enqueue, or
run an embedded worker (``outreach run``, the scheduler, tests), get none of them.
"""

from __future__ import annotations

import dramatiq

from worker.broker import requeue_fetched
from worker.operations import heartbeats
from worker.operations.log_format import in_dramatiq_command
from worker.operations.process_metrics import worker_metrics_middleware
from worker.runtime import get_runtime


class HeartbeatMiddleware(dramatiq.Middleware):
    """Gives each worker process a heartbeat, written before it takes a message, with its
    Redis consumer id (what it fetched goes back to the queue once it is known dead)."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        runtime = get_runtime()
        # A restart replaces the dead processes of its role on this host and drops their
        # heartbeat rows: first give the queue back what they had fetched.
        with runtime.sessions() as session:
            requeue_fetched(broker, heartbeats.dead_consumers(session, runtime.settings))
        heartbeats.start(runtime, "worker", consumer=getattr(broker, "broker_id", None))

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        heartbeats.stop("worker")


def worker_process_middleware() -> list[dramatiq.Middleware]:
    """What a ``dramatiq worker.actors`` process adds to the broker; nothing elsewhere."""
    if not in_dramatiq_command():
        return []
    return [HeartbeatMiddleware(), *worker_metrics_middleware()]


__all__ = [
    "HeartbeatMiddleware",
    "worker_process_middleware",
]
