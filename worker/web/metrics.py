"""``GET /metrics``: Prometheus text for a scraper that presents ``OUTREACH_METRICS_TOKEN``.

Without the setting the page does not exist (404); with it, a request without
``Authorization: Bearer <token>`` gets 401. Every figure is read from the database at scrape
time, so any number of web processes report the same values.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from flask import Blueprint, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from worker.queries.metrics import Figures, read_figures
from worker.settings import Settings
from worker.web.context import current_runtime

blueprint = Blueprint("metrics", __name__)


class _FiguresCollector(Collector):
    def __init__(self, figures: Figures, limits: dict[str, int], queue: dict[str, int]) -> None:
        self.figures = figures
        self.limits = limits
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield _gauge("outreach_touches", "Touches by status.", "status", self.figures.touches)
        yield _gauge(
            "outreach_review_open",
            "Open review items by reason.",
            "reason",
            self.figures.review_open,
        )
        yield _gauge(
            "outreach_inbound_messages",
            "Stored inbound messages by intent (or status when not classified).",
            "intent",
            self.figures.inbound,
        )
        yield _gauge(
            "outreach_mailbox_sent_today",
            "Emails sent today (UTC) by mailbox.",
            "mailbox",
            self.figures.sent_today,
        )
        yield _gauge(
            "outreach_mailbox_failed_today",
            "Emails that failed today (UTC) by mailbox.",
            "mailbox",
            self.figures.failed_today,
        )
        yield _gauge(
            "outreach_mailbox_daily_limit", "Daily limit by mailbox.", "mailbox", self.limits
        )
        yield _gauge(
            "outreach_queue_messages",
            "Messages in the Redis queue (ready and delayed); absent on the embedded queue.",
            "queue",
            self.queue,
        )
        age = GaugeMetricFamily(
            "outreach_heartbeat_age_seconds",
            "Seconds since each registered process (scheduler, worker, run) last beat.",
            labels=["holder", "roles"],
        )
        stale = 0
        for holder, roles, seconds, alive in self.figures.heartbeats:
            age.add_metric([holder, roles], seconds)
            stale += not alive
        yield age
        yield GaugeMetricFamily(
            "outreach_processes_stale",
            "Registered processes that stopped beating (alert when above 0).",
            value=stale,
        )


def _gauge(name: str, text: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


# ``worker.broker.QUEUE``; not imported, because importing the broker module builds a broker.
QUEUE = "outreach"


def _queue_depth(settings: Settings) -> dict[str, int]:
    """dramatiq's Redis queue: messages ready (or being worked on) and delayed for retry."""
    if not settings.redis_url:
        return {}
    import redis

    prefix = f"{settings.redis_namespace}:{QUEUE}"
    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
        try:
            return {
                "ready": int(client.hlen(f"{prefix}.msgs")),
                "delayed": int(client.hlen(f"{prefix}.DQ.msgs")),
            }
        finally:
            client.close()
    except redis.RedisError:  # the scrape still reports the database figures
        return {}


@blueprint.get("/metrics")
def metrics() -> Response:
    runtime = current_runtime()
    token = runtime.settings.metrics_token
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return Response("metrics need the bearer token", 401, mimetype="text/plain")
    with runtime.sessions() as session:
        figures = read_figures(session, runtime.clock.now(), runtime.settings)
    try:
        limits = {
            name: spec.daily_limit
            for name, spec in runtime.mailboxes.by_name.items()
            if spec.daily_limit
        }
    except Exception:  # a broken mailboxes.yaml: `outreach check` reports it
        limits = {}
    registry = CollectorRegistry()
    registry.register(_FiguresCollector(figures, limits, _queue_depth(runtime.settings)))
    return Response(generate_latest(registry), 200, mimetype=CONTENT_TYPE_LATEST)
