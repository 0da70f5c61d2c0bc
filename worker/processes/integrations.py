"""The dispatcher step of a batch and of the scheduler: turn new events into webhook
deliveries and notifications, and enqueue them — never waiting for a receiver."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

from dramatiq.brokers.stub import StubBroker
from sqlalchemy.exc import SQLAlchemyError

from worker.actors import INTEGRATIONS_QUEUE, deliver_webhook, send_notification
from worker.errors import OutreachError
from worker.integrations import Dispatched, dispatch
from worker.integrations.dispatch import REQUEUE_AFTER
from worker.runtime import Runtime

log = logging.getLogger(__name__)
_swept: dict[int, bool] = {}  # processes whose first pass re-enqueued every due delivery


def dispatch_and_enqueue(runtime: Runtime) -> Dispatched:
    """One dispatcher pass, its deliveries and emails enqueued; a failure here is logged and
    never stops the batch (what was not dispatched is read again next time)."""
    requeue_after = REQUEUE_AFTER
    if not runtime.settings.uses_redis and _swept.get(os.getpid()) is None:
        # an in-process queue starts empty: what earlier processes enqueued is gone
        requeue_after = timedelta(0)
    try:
        found = dispatch(runtime, requeue_after)
        _swept[os.getpid()] = True
    except (OutreachError, SQLAlchemyError) as exc:
        log.warning("webhooks and notifications not dispatched: %s", exc)
        return Dispatched()
    for delivery_id in found.deliveries:
        deliver_webhook.send(delivery_id)
    for notification_id in found.emails:
        send_notification.send(notification_id)
    return found


DRAIN_S = 10.0


def drain_embedded(runtime: Runtime, budget_s: float = DRAIN_S) -> bool:
    """On the embedded default, give the in-process worker up to ``budget_s`` to make the
    deliveries enqueued so far (``outreach run`` calls it after printing its summary, before
    the process ends); True when none is left waiting. What is not attempted stays pending
    and goes at the next run. A no-op with Redis: the workers deliver."""
    broker = deliver_webhook.broker
    if runtime.settings.uses_redis or not isinstance(broker, StubBroker):
        return True
    queue = broker.queues.get(INTEGRATIONS_QUEUE)
    if queue is None:
        return True
    deadline = time.monotonic() + budget_s
    while queue.unfinished_tasks:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


__all__ = ["dispatch_and_enqueue", "drain_embedded"]
