"""The dispatcher step: from the event log to webhook deliveries and notifications.

Called by ``outreach run`` after its sends and by the scheduler every minute. It reads the
events after a cursor (``app_state``), inserts one ``webhook_deliveries`` row per
(subscription, event) and one ``notifications`` row per (what happened, rep, channel) —
unique, "on conflict do nothing" — and returns what to enqueue. It never waits for a
receiver: a receiver that is down costs the batch nothing.

On PostgreSQL an event's id is taken when it is inserted but seen only when its transaction
commits, so a smaller id can appear after a larger one was read. Each pass therefore reads
again ``OVERLAP_EVENTS`` ids behind the cursor; the unique rows make the re-read harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from worker.integrations import notifications
from worker.integrations.config import IntegrationsConfig, integrations_for
from worker.integrations.delivery import PENDING
from worker.integrations.digest import digests
from worker.integrations.payloads import SOURCE_KINDS, body, event_data, leads_by_id, public_name
from worker.runtime import Runtime
from worker.store.dialect import dialect_insert
from worker.store.models import AppState, Event, Notification, WebhookDelivery
from worker.vocabulary import EventKind

log = logging.getLogger(__name__)

CURSOR_KEY = "webhooks.cursor"
OVERLAP_EVENTS = 1000  # ids read again behind the cursor (late commits on PostgreSQL)
PAGE_EVENTS = 1000
PAGES_PER_PASS = 50
FIRST_PASS_BACK = timedelta(hours=24)  # a new integrations.yaml also gets the last day's events
REQUEUE_AFTER = timedelta(minutes=1)  # a due delivery enqueued longer ago is enqueued again
_NOTIFYING = (EventKind.FLAGGED, EventKind.SQL_ACCEPTED)


@dataclass
class Dispatched:
    """What one pass found: deliveries and email notifications to enqueue."""

    deliveries: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)
    events_read: int = 0
    created: int = 0


def dispatch(runtime: Runtime, requeue_after: timedelta = REQUEUE_AFTER) -> Dispatched:
    """One pass (see the module's docstring); nothing at all without integrations.yaml.

    Due deliveries enqueued more than ``requeue_after`` ago are enqueued again (an
    in-process queue's messages end with its process)."""
    config = integrations_for(runtime.settings.home)
    result = Dispatched()
    if config is None or not (config.webhooks or config.notifications.mailbox):
        return result
    now = runtime.clock.now()
    for _ in range(PAGES_PER_PASS):
        with runtime.sessions.begin() as session:
            read, more = _page(session, runtime, config, now, result)
        result.events_read += read
        if not more:
            break
    with runtime.sessions.begin() as session:
        due = notifications.tasks_due_today(session, now, runtime.settings.public_url)
        if config.notifications.daily_digest and config.notifications.mailbox:
            due += digests(session, now, runtime.settings.public_url)
        emails, chats = notifications.record(session, runtime, config, due)
        result.emails.extend(emails)
        result.deliveries.extend(chats)
        result.created += len(emails) + len(chats)
        result.deliveries.extend(
            _due_deliveries(session, now, set(result.deliveries), requeue_after)
        )
        result.emails.extend(_due_emails(session, now, set(result.emails), requeue_after))
    if result.created:
        log.info(
            "webhooks: %d events read, %d deliveries and notifications created",
            result.events_read,
            result.created,
        )
    return result


def _page(
    session: Session, runtime: Runtime, config: IntegrationsConfig, now: datetime, out: Dispatched
) -> tuple[int, bool]:
    """Read one page of events after the cursor; (events read, whether more may follow)."""
    cursor = _cursor(session, now)
    wanted = {e for s in config.webhooks if s.kind == "webhook" for e in s.events}
    kinds = list(SOURCE_KINDS) if wanted else list(_NOTIFYING)
    events = session.scalars(
        select(Event)
        .where(Event.id > max(0, cursor - OVERLAP_EVENTS), Event.kind.in_(kinds))
        .order_by(Event.id)
        .limit(PAGE_EVENTS + OVERLAP_EVENTS)
    ).all()
    leads = leads_by_id(session, (e.lead_id for e in events))
    done = _dispatched(session, [e.id for e in events])  # read before: the overlap
    rows: list[dict[str, object]] = []
    notices = []
    for event in events:
        lead = leads.get(event.lead_id) if event.lead_id is not None else None
        name = public_name(event)
        if name is not None and name in wanted:
            subscribers = [
                s.name
                for s in config.webhooks
                if s.kind == "webhook" and s.wants(name) and (s.name, event.id) not in done
            ]
            if subscribers:
                data = event_data(session, event, lead)
                document = body(f"ev_{event.id}", name, event.at, data)
                rows += [_row(s, event, name, document, now) for s in subscribers]
        if lead is not None and event.kind in _NOTIFYING:
            notice = notifications.notice_for(event, lead, runtime.settings.public_url)
            if notice is not None:
                notices.append(notice)
    created = _insert_deliveries(session, rows)
    out.deliveries.extend(created)
    emails, chats = notifications.record(session, runtime, config, notices)
    out.emails.extend(emails)
    out.deliveries.extend(chats)
    out.created += len(created) + len(emails) + len(chats)
    newest = max((e.id for e in events), default=cursor)
    if newest > cursor:
        _set_cursor(session, newest)
    fresh = sum(1 for e in events if e.id > cursor)
    return fresh, fresh >= PAGE_EVENTS


def _row(
    subscription: str, event: Event, name: str, document: str, now: datetime
) -> dict[str, object]:
    return {
        "subscription": subscription,
        "key": f"event:{event.id}",
        "event": name,
        "event_id": event.id,
        "lead_id": event.lead_id,
        "body": document,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "enqueued_at": now,
        "created_at": now,
    }


def _dispatched(session: Session, event_ids: list[int]) -> set[tuple[str, int]]:
    """(subscription, event id) of the deliveries these events already have."""
    if not event_ids:
        return set()
    rows = session.execute(
        select(WebhookDelivery.subscription, WebhookDelivery.event_id).where(
            WebhookDelivery.event_id.in_(event_ids)
        )
    )
    return {(name, event_id) for name, event_id in rows if event_id is not None}


def _insert_deliveries(session: Session, rows: list[dict[str, object]]) -> list[int]:
    """Insert the rows (one cached statement, many parameter sets), each at most once; the
    ids inserted."""
    if not rows:
        return []
    table = WebhookDelivery.__table__
    statement = (
        dialect_insert(session, table)
        .on_conflict_do_nothing(index_elements=["subscription", "key"])
        .returning(table.c.id)
    )
    found = session.connection().execute(statement, rows).scalars()
    return sorted(int(i) for i in found if i is not None)


def _cursor(session: Session, now: datetime) -> int:
    """The newest event id read so far; on the first pass, just before the last day's."""
    value = session.scalar(select(AppState.value).where(AppState.key == CURSOR_KEY))
    if value is not None:
        return int(value)
    first = session.scalar(
        select(func.min(Event.id)).where(
            Event.kind.in_(SOURCE_KINDS), Event.at >= now - FIRST_PASS_BACK
        )
    )
    if first is None:
        first = (session.scalar(select(func.max(Event.id))) or 0) + 1
    start = first - 1
    _set_cursor(session, start)
    return start


def _set_cursor(session: Session, value: int) -> None:
    statement = dialect_insert(session, AppState.__table__).values(key=CURSOR_KEY, value=str(value))
    session.connection().execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": str(value)})
    )


def _due_deliveries(
    session: Session, now: datetime, exclude: set[int], requeue_after: timedelta
) -> list[int]:
    """Pending deliveries due again whose message may be gone (a retry after a restart)."""
    return _due_again(session, WebhookDelivery, [], now, exclude, requeue_after)


def _due_emails(
    session: Session, now: datetime, exclude: set[int], requeue_after: timedelta
) -> list[int]:
    """Pending email notifications due again (a retry, or a message lost with its process)."""
    only_email = [Notification.channel == notifications.EMAIL]
    return _due_again(session, Notification, only_email, now, exclude, requeue_after)


def _due_again(
    session: Session,
    model: type[WebhookDelivery] | type[Notification],
    also: list[ColumnElement[bool]],
    now: datetime,
    exclude: set[int],
    requeue_after: timedelta,
) -> list[int]:
    """The pending rows of ``model`` due now and not enqueued lately (at most 1,000, in id
    order, without ``exclude``), marked enqueued now."""
    due = session.scalars(
        select(model.id)
        .where(
            model.status == PENDING,
            model.next_attempt_at <= now,
            or_(model.enqueued_at.is_(None), model.enqueued_at <= now - requeue_after),
            *also,
        )
        .order_by(model.id)
        .limit(1000)
    )
    ids = [i for i in due if i not in exclude]
    if ids:
        session.execute(update(model).where(model.id.in_(ids)).values(enqueued_at=now))
    return ids


__all__ = ["CURSOR_KEY", "Dispatched", "dispatch"]
