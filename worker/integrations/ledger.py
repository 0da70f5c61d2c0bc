"""Reading and acting on the delivery ledger: counts, lists, replay, a test ping, and
forgetting a person (data-protection erasure)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from worker.errors import NotFoundError, OutreachError
from worker.integrations.catalog import PING
from worker.integrations.config import IntegrationsConfig
from worker.integrations.delivery import DELIVERED, FAILED, PENDING
from worker.integrations.payloads import body, iso
from worker.store.models import Notification, WebhookAttempt, WebhookDelivery


@dataclass(frozen=True)
class Counts:
    """Deliveries of one subscription by status."""

    pending: int = 0
    delivered: int = 0
    failed: int = 0


def counts(session: Session) -> dict[str, Counts]:
    """Per subscription name: how many deliveries are pending, delivered, failed."""
    found: dict[str, dict[str, int]] = {}
    for name, status, n in session.execute(
        select(WebhookDelivery.subscription, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.subscription, WebhookDelivery.status
        )
    ):
        found.setdefault(name, {})[status] = n
    return {
        name: Counts(**{k: v for k, v in by.items() if k in ("pending", "delivered", "failed")})
        for name, by in found.items()
    }


def deliveries(
    session: Session,
    *,
    status: str | None = None,
    subscription: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The newest deliveries first, each with its last attempt."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if subscription is not None:
        query = query.where(WebhookDelivery.subscription == subscription)
    rows = session.scalars(query).all()
    last = _last_attempts(session, [row.id for row in rows])
    return [_as_dict(row, last.get(row.id)) for row in rows]


def delivery(session: Session, delivery_id: int) -> dict[str, Any]:
    """One delivery with its body and every attempt."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise NotFoundError(
            f"No webhook delivery {delivery_id} — see 'outreach webhooks deliveries'."
        )
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.id)
    ).all()
    found = _as_dict(row, attempts[-1] if attempts else None)
    found["body"] = row.body
    found["attempt_log"] = [_attempt(a) for a in attempts]
    return found


def replay(session: Session, ids: Iterable[int], *, failed: bool = False, now: Any) -> list[int]:
    """Make deliveries pending again (attempts from zero); ``failed``: every failed one.
    Returns the ids to enqueue."""
    wanted = list(ids)
    if failed:
        wanted += list(
            session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.status == FAILED))
        )
    if not wanted:
        return []
    known = set(session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.id.in_(wanted))))
    missing = sorted(set(wanted) - known)
    if missing:
        raise NotFoundError(
            f"No webhook delivery {', '.join(map(str, missing))} — see "
            "'outreach webhooks deliveries'."
        )
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(wanted))
        .values(status=PENDING, attempts=0, next_attempt_at=now, enqueued_at=now)
    )
    return sorted(known)


def ping(session: Session, config: IntegrationsConfig, name: str, *, now: Any) -> int:
    """A ``ping`` delivery to subscription ``name``; returns its id."""
    subscription = config.subscription(name)
    identifier = f"ping_{uuid.uuid4().hex[:16]}"
    if subscription.kind == "chat":
        document = '{"text":"Outreach: test message — this channel is connected."}'
    else:
        document = body(identifier, PING, now, {"subscription": name})
    row = WebhookDelivery(
        subscription=name,
        key=f"ping:{identifier}",
        event=PING,
        body=document,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        enqueued_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def forget_lead(session: Session, lead_id: int) -> int:
    """Delete every webhook delivery and notification carrying this lead's data (an
    erasure); returns how many rows. Delivered ones go too: their bodies hold the address."""
    deleted = 0
    for table in (WebhookDelivery, Notification):
        result = session.execute(
            delete(table)
            .where(table.lead_id == lead_id)
            .execution_options(synchronize_session=False)
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


def require_status(status: str | None) -> str | None:
    if status is not None and status not in (PENDING, DELIVERED, FAILED):
        raise OutreachError(
            f"--status {status!r} is not a delivery status — use pending, delivered or failed"
        )
    return status


def _last_attempts(session: Session, ids: list[int]) -> dict[int, WebhookAttempt]:
    if not ids:
        return {}
    newest = (
        select(func.max(WebhookAttempt.id))
        .where(WebhookAttempt.delivery_id.in_(ids))
        .group_by(WebhookAttempt.delivery_id)
    )
    rows = session.scalars(select(WebhookAttempt).where(WebhookAttempt.id.in_(newest)))
    return {row.delivery_id: row for row in rows}


def _as_dict(row: WebhookDelivery, last: WebhookAttempt | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "subscription": row.subscription,
        "event": row.event,
        "event_id": row.event_id,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at) if row.delivered_at else None,
        "next_attempt_at": iso(row.next_attempt_at)
        if row.next_attempt_at and row.status == PENDING
        else None,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "last_attempt": _attempt(last) if last is not None else None,
    }


def _attempt(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "at": iso(attempt.at),
        "status_code": attempt.status_code,
        "response": attempt.response,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }


__all__ = [
    "Counts",
    "counts",
    "deliveries",
    "delivery",
    "forget_lead",
    "ping",
    "replay",
    "require_status",
]
