"""Thin dramatiq actors: get the process runtime, call a service function.

Run them with ``dramatiq worker.actors`` (or ``outreach worker``). Retry policy: delivery
retries (SMTP 4xx, connection errors) are decided by the send service and kept in the
database, so they survive restarts; dramatiq retries only unexpected crashes, 3 times.
"""

from __future__ import annotations

import os

from worker.operations.log_format import configure_worker_process_logging, in_dramatiq_command

if in_dramatiq_command():  # the logging edge of a worker process, before the imports below log
    configure_worker_process_logging(os.environ.get("OUTREACH_LOG_FORMAT"))

import logging
import time
from collections import Counter
from typing import Any

import dramatiq

from worker import broker as _broker  # noqa: F401  (the broker before actors are declared)
from worker.broker import QUEUE
from worker.delivery.sending import send_touches as send_touches_service
from worker.integrations import attempt as attempt_webhook
from worker.integrations import integrations_for
from worker.integrations import send_notification as send_notification_service
from worker.operations.process_metrics import WORKER_METRICS
from worker.operations.worker_process import worker_process_middleware
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

for _middleware in worker_process_middleware():  # a `dramatiq worker.actors` process only
    dramatiq.get_broker().add_middleware(_middleware)

SEND_TIME_LIMIT_MS = 10 * 60 * 1000
SEND_MAX_AGE_MS = 24 * 3600 * 1000


@dramatiq.actor(
    queue_name=QUEUE,
    max_retries=3,
    min_backoff=5_000,
    max_backoff=60_000,
    max_age=SEND_MAX_AGE_MS,
    time_limit=SEND_TIME_LIMIT_MS,
)
def send_touches(touch_ids: list[int]) -> None:
    """Send these touches (each at most once, whatever happens to this message)."""
    started = time.perf_counter()
    outcomes = send_touches_service(get_runtime(), touch_ids)
    counts = Counter(outcome.result for outcome in outcomes)
    WORKER_METRICS.observe(counts, time.perf_counter() - started)
    log.info(
        "batch of %d touches: %s",
        len(touch_ids),
        ", ".join(f"{n} {result}" for result, n in sorted(counts.items())) or "nothing to do",
        extra={"touches": len(touch_ids), "outcomes": dict(counts)},
    )


# Webhooks and notifications wait on other people's servers: their own queue, so an
# embedded batch never waits for them, and a low priority, so sends go first.
INTEGRATIONS_QUEUE = "outreach_integrations"
INTEGRATIONS_OPTIONS: dict[str, Any] = {
    "queue_name": INTEGRATIONS_QUEUE,
    "priority": 100,
    "max_retries": 3,
    "min_backoff": 5_000,
    "max_backoff": 60_000,
    "max_age": 24 * 3600 * 1000,
    "time_limit": 120_000,
}


@dramatiq.actor(**INTEGRATIONS_OPTIONS)
def deliver_webhook(delivery_id: int) -> None:
    """POST one webhook delivery once; when it failed and may be retried, enqueue the next
    attempt with the backoff kept on its row (the dispatcher re-enqueues it after a restart)."""
    outcome = attempt_webhook(get_runtime(), delivery_id)
    if outcome.retry_in_s is not None:
        deliver_webhook.send_with_options(args=(delivery_id,), delay=outcome.retry_in_s * 1000)


@dramatiq.actor(**INTEGRATIONS_OPTIONS)
def send_notification(notification_id: int) -> None:
    """Email one notification to a rep through the system mailbox (retried by the
    dispatcher, which re-enqueues it when its next attempt is due)."""
    runtime = get_runtime()
    send_notification_service(runtime, notification_id, integrations_for(runtime.settings.home))


__all__ = ["INTEGRATIONS_QUEUE", "deliver_webhook", "send_notification", "send_touches"]
