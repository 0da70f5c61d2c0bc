"""One attempt of one webhook delivery: claim it, POST the signed body, record the attempt.

2xx is delivered; any other status, a timeout or a refused connection is retried with
exponential backoff (kept on the row, so retries survive restarts) until the subscription's
``max_attempts``, then the delivery is ``failed``. The claim is one atomic ``UPDATE`` that
moves ``next_attempt_at`` past the attempt (a lease): two messages for the same delivery
never post it twice at the same time, and a crashed attempt is tried again after the lease.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from worker.errors import ConfigError
from worker.integrations.catalog import PING
from worker.integrations.config import IntegrationsConfig, Subscription, integrations_for
from worker.integrations.signing import (
    EVENT_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from worker.runtime import Runtime
from worker.store.models import WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
RESPONSE_KEPT = 500  # characters of a response body kept with the attempt
FIRST_RETRY_S = 30
LAST_RETRY_S = 3600
LEASE_EXTRA_S = 60
USER_AGENT = "outreach-webhooks/1"


def backoff_s(attempts: int) -> int:
    """Seconds before the next attempt after ``attempts`` failed ones: 30 s, 1, 2, 4 min … 1 h."""
    return int(min(LAST_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Attempt:
    """What one attempt did; ``retry_in_s`` is set when another attempt is scheduled."""

    delivery_id: int
    result: str  # delivered | retry | failed | skipped
    status_code: int | None = None
    error: str | None = None
    retry_in_s: int | None = None


@dataclass(frozen=True)
class _Response:
    status_code: int | None
    text: str | None
    error: str | None
    duration_ms: int


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer of its own: not delivered, retried


_OPENER = urllib.request.build_opener(_NoRedirects())


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> _Response:
    """POST ``body``; never raises for what the receiver does."""
    started = time.perf_counter()
    if not url.startswith(("http://", "https://")):
        return _Response(None, None, f"{url[:40]!r} is not an http:// or https:// URL", 0)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    status: int | None = None
    text: str | None = None
    error: str | None = None
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            status = response.status
            text = response.read(RESPONSE_KEPT * 4).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            text = exc.read(RESPONSE_KEPT * 4).decode("utf-8", "replace")
        except OSError:
            text = None
        error = f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(reason).__name__}: {reason}"
    duration = int((time.perf_counter() - started) * 1000)
    return _Response(status, text[:RESPONSE_KEPT] if text else text, error, duration)


def headers_for(
    subscription: Subscription, delivery: WebhookDelivery, body: bytes, now: datetime, env: Any
) -> dict[str, str]:
    """The request headers, signed when the subscription's secret is set."""
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        ID_HEADER: webhook_id(delivery),
        EVENT_HEADER: delivery.event,
        TIMESTAMP_HEADER: str(timestamp),
    }
    secret = subscription.secret(env)
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return headers


def webhook_id(delivery: WebhookDelivery) -> str:
    """The id a receiver deduplicates on: the same for every attempt and replay."""
    return f"{delivery.subscription}:{delivery.key}"


def attempt(runtime: Runtime, delivery_id: int) -> Attempt:
    """Try delivery ``delivery_id`` once if it is pending and due; record what happened."""
    config = integrations_for(runtime.settings.home)
    if config is None:  # no file, or one with errors: wait until it is fixed, spend nothing
        log.warning(
            "webhook delivery %r waits: integrations.yaml is missing or invalid", delivery_id
        )
        return Attempt(delivery_id, "skipped", error="integrations.yaml is missing or invalid")
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        delivery = _claim(session, delivery_id, now, config)
        if delivery is None:
            return Attempt(delivery_id, "skipped")
        session.expunge(delivery)
    subscription = _subscription(config, delivery.subscription)
    body = delivery.body.encode("utf-8")
    if subscription is None:
        response = _Response(None, None, "the subscription is no longer in integrations.yaml", 0)
    elif subscription.kind == "webhook" and subscription.secret(runtime.settings.environ) is None:
        response = _Response(
            None,
            None,
            f"${subscription.secret_variable} is not set: nothing is sent unsigned — export "
            "it (the same value as the receiver's)",
            0,
        )
    else:
        try:
            url = subscription.target(runtime.settings.environ)
        except ConfigError as exc:
            response = _Response(None, None, str(exc), 0)
        else:
            headers = headers_for(subscription, delivery, body, now, runtime.settings.environ)
            response = post(url, body, headers, subscription.timeout_s)
    max_attempts = subscription.max_attempts if subscription is not None else 1
    if delivery.event == PING:
        max_attempts = 1  # a test: its answer is printed, never retried
    return _record(runtime, delivery, response, max_attempts)


def _subscription(config: IntegrationsConfig | None, name: str) -> Subscription | None:
    if config is None:
        return None
    return next((s for s in config.webhooks if s.name == name), None)


def _claim(
    session: Session, delivery_id: int, now: datetime, config: IntegrationsConfig | None
) -> WebhookDelivery | None:
    timeout = max((s.timeout_s for s in config.webhooks), default=5.0) if config else 5.0
    lease = now + timedelta(seconds=timeout + LEASE_EXTRA_S)
    claimed = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == PENDING,
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
        )
        .values(next_attempt_at=lease, attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery.id)
    ).scalar()
    if claimed is None:
        return None
    return session.get(WebhookDelivery, delivery_id)


def _record(
    runtime: Runtime, delivery: WebhookDelivery, response: _Response, max_attempts: int
) -> Attempt:
    now = runtime.clock.now()
    ok = response.status_code is not None and 200 <= response.status_code < 300
    with runtime.sessions.begin() as session:
        number = 1 + (
            session.scalar(select(func.count()).where(WebhookAttempt.delivery_id == delivery.id))
            or 0
        )
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=number,
                at=now,
                status_code=response.status_code,
                response=response.text,
                error=response.error,
                duration_ms=response.duration_ms,
            )
        )
        values: dict[str, Any] = {
            "last_status_code": response.status_code,
            "last_error": response.error,
        }
        retry_in: int | None = None
        if ok:
            values.update(status=DELIVERED, delivered_at=now, next_attempt_at=None)
            result = "delivered"
        elif delivery.attempts >= max_attempts:
            values.update(status=FAILED, next_attempt_at=None)
            result = "failed"
        else:
            retry_in = backoff_s(delivery.attempts)
            values.update(next_attempt_at=now + timedelta(seconds=retry_in))
            result = "retry"
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
        )
    log.info(
        "webhook delivery %r (%s to %r) attempt %d: %s%s",
        delivery.id,
        delivery.event,
        delivery.subscription,
        number,
        result,
        f" ({response.error})" if response.error else "",
        extra={"delivery_id": delivery.id, "status_code": response.status_code},
    )
    return Attempt(delivery.id, result, response.status_code, response.error, retry_in)


__all__ = [
    "DELIVERED",
    "FAILED",
    "PENDING",
    "Attempt",
    "attempt",
    "backoff_s",
    "headers_for",
    "post",
    "webhook_id",
]
