"""Telling a lead's owner: a hot lead, an accepted SQL, a task due today.

By email through the system mailbox (``notifications.mailbox`` of integrations.yaml, a
mailbox of mailboxes.yaml; sent through its transport, outside sequences and mailbox limits,
only ever to a rep) and in every chat subscription (``kind: chat``) that wants it, as a
Slack-compatible ``{"text": ...}`` webhook delivery. One row per (what happened, rep,
channel), inserted "on conflict do nothing", so a dispatcher that runs twice tells once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from worker.errors import DeliveryError, OutreachError
from worker.integrations.config import IntegrationsConfig
from worker.integrations.delivery import FAILED, PENDING, backoff_s
from worker.runtime import Runtime
from worker.store.dialect import dialect_insert
from worker.store.models import Event, Lead, Notification, Rep, ReviewItem, WebhookDelivery
from worker.transports.local import OutboxTransport
from worker.transports.message import BuiltMessage
from worker.vocabulary import EventKind, ReviewReason

log = logging.getLogger(__name__)

EMAIL = "email"
HANDED_OVER = "handed_over"  # a chat notification: its webhook delivery carries it on
MAX_ATTEMPTS = 6
TASK_REASONS = (ReviewReason.TASK_CALL, ReviewReason.TASK_LINKEDIN)


@dataclass(frozen=True)
class Notice:
    """Something to tell a lead's owner."""

    key: str  # what happened: "event:ID", "task:ITEM" or "digest:DAY"
    kind: str  # hot_lead | sql_accepted | task_due | daily_digest
    owner: str | None  # the rep told (the lead's owner)
    lead_id: int | None
    subject: str
    text: str
    chat: bool = True  # also for the chat subscriptions (a digest is email only)


def notice_for(event: Event, lead: Lead, public_url: str) -> Notice | None:
    """The notice an event gives the lead's owner, or None."""
    name, full = title(lead), who(lead)
    link = f"{public_url}/leads/{lead.id}"
    if event.kind == EventKind.FLAGGED and event.cause == ReviewReason.HOT_LEAD:
        return Notice(
            f"event:{event.id}",
            "hot_lead",
            lead.owner,
            lead.id,
            f"Hot lead: {name} replied",
            f"{full} replied with interest and is waiting in the review queue.\n{link}",
        )
    if event.kind == EventKind.SQL_ACCEPTED:
        return Notice(
            f"event:{event.id}",
            "sql_accepted",
            lead.owner,
            lead.id,
            f"Accepted as SQL: {name}",
            f"{full} was accepted as a sales-qualified lead (stage {lead.stage}).\n{link}",
        )
    return None


def tasks_due_today(session: Session, now: datetime, public_url: str) -> list[Notice]:
    """Open call / LinkedIn tasks of owned leads due by the end of the owner's today."""
    rows = session.execute(
        select(ReviewItem, Lead, Rep.timezone)
        .join(Lead, Lead.id == ReviewItem.lead_id)
        .outerjoin(Rep, Rep.name == Lead.owner)
        .where(
            ReviewItem.reason.in_(TASK_REASONS),
            ReviewItem.resolved_at.is_(None),
            ReviewItem.due_at.is_not(None),
            ReviewItem.due_at <= now + timedelta(days=1),
            Lead.owner.is_not(None),
        )
        .order_by(ReviewItem.due_at, ReviewItem.id)
        .limit(1000)
    ).all()
    found = []
    for item, lead, zone_name in rows:
        tz = zone(zone_name)
        if item.due_at is None or item.due_at.astimezone(tz).date() > now.astimezone(tz).date():
            continue
        what = "call" if item.reason == ReviewReason.TASK_CALL else "LinkedIn"
        found.append(
            Notice(
                f"task:{item.id}",
                "task_due",
                lead.owner,
                lead.id,
                f"Task due today: {what} {title(lead)}",
                f"{what.capitalize()} {who(lead)}: {(item.detail or '').strip()}\n"
                f"{public_url}/leads/{lead.id}",
            )
        )
    return found


def record(
    session: Session, runtime: Runtime, config: IntegrationsConfig, notices: list[Notice]
) -> tuple[list[int], list[int]]:
    """Insert each notice once per (rep, channel); (new email notification ids, new chat
    webhook delivery ids)."""
    now = runtime.clock.now()
    emails: list[int] = []
    chats: list[int] = []
    settings = config.notifications
    owners = {notice.owner for notice in notices if notice.owner}
    reps = {rep.name: rep for rep in session.scalars(select(Rep).where(Rep.name.in_(owners)))}
    for notice in notices:
        rep = reps.get(notice.owner or "")
        if settings.mailbox and settings.email and rep is not None and rep.email:
            new = _insert(session, notice, rep.name, EMAIL, now)
            if new is not None:
                emails.append(new)
        for chat in config.chats if notice.chat else []:
            if not chat.wants(notice.kind):
                continue
            name = notice.owner or "-"
            new = _insert(session, notice, name, f"chat:{chat.name}", now)
            if new is None:
                continue
            owner = f" (owner: {_rep_label(rep, notice.owner)})" if notice.owner else ""
            text = f"*{notice.subject}*{owner}\n{notice.text}"
            delivery = _chat_delivery(session, chat.name, new, notice, text, now)
            if delivery is not None:
                chats.append(delivery)
                session.execute(
                    update(Notification).where(Notification.id == new).values(status=HANDED_OVER)
                )
    return emails, chats


def _insert(session: Session, notice: Notice, rep: str, channel: str, now: datetime) -> int | None:
    statement = (
        dialect_insert(session, Notification.__table__)
        .values(
            key=notice.key,
            rep=rep,
            channel=channel,
            kind=notice.kind,
            lead_id=notice.lead_id,
            subject=notice.subject[:300],
            text=notice.text,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            enqueued_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key", "rep", "channel"])
        .returning(Notification.__table__.c.id)
    )
    return session.connection().execute(statement).scalar()


def _chat_delivery(
    session: Session, chat: str, notification_id: int, notice: Notice, text: str, now: datetime
) -> int | None:
    """The chat message as a webhook delivery (retried and logged like the others)."""
    statement = (
        dialect_insert(session, WebhookDelivery.__table__)
        .values(
            subscription=chat,
            key=f"notification:{notification_id}",
            event=notice.kind,
            lead_id=notice.lead_id,
            body=json.dumps({"text": text}, ensure_ascii=False),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            enqueued_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscription", "key"])
        .returning(WebhookDelivery.__table__.c.id)
    )
    return session.connection().execute(statement).scalar()


def send(runtime: Runtime, notification_id: int, config: IntegrationsConfig | None) -> str:
    """Email notification ``notification_id`` once if pending and due: sent | retry |
    failed | skipped (also while integrations.yaml is missing or invalid: it waits)."""
    if config is None:
        return "skipped"
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        claimed = session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == PENDING,
                Notification.channel == EMAIL,
                or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
            )
            .values(next_attempt_at=now + timedelta(minutes=5), attempts=Notification.attempts + 1)
            .returning(Notification.id)
        ).scalar()
        if claimed is None:
            return "skipped"
        note = session.get(Notification, notification_id)
        assert note is not None
        rep = session.scalar(select(Rep).where(Rep.name == note.rep))
        values: dict[str, Any] = {"subject": note.subject, "text": note.text, "n": note.attempts}
    error: str | None = None
    try:
        mailbox = config.notifications.mailbox
        if not mailbox:
            raise OutreachError("notifications.mailbox is not set in integrations.yaml")
        if rep is None or not rep.email:
            raise OutreachError(f"rep {note.rep!r} has no email address — set it on the rep")
        _send_email(runtime, mailbox, rep.email, values["subject"], values["text"], note.id)
    except (DeliveryError, OutreachError, OSError) as exc:
        error = str(exc) or type(exc).__name__
    attempts = int(values["n"])
    with runtime.sessions.begin() as session:
        if error is None:
            update_values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": None}
            result = "sent"
        elif attempts >= MAX_ATTEMPTS:
            update_values = {"status": FAILED, "last_error": error, "next_attempt_at": None}
            result = "failed"
        else:
            retry = now + timedelta(seconds=backoff_s(attempts))
            update_values = {"last_error": error, "next_attempt_at": retry}
            result = "retry"
        session.execute(
            update(Notification).where(Notification.id == notification_id).values(**update_values)
        )
    log.info(
        "notification %r to %r: %s%s",
        notification_id,
        note.rep,
        result,
        f" ({error})" if error else "",
    )
    return result


def _send_email(
    runtime: Runtime, mailbox: str, to: str, subject: str, text: str, notification_id: int
) -> None:
    sender = runtime.mailboxes.get(mailbox)
    message = EmailMessage()
    message["From"] = formataddr((sender.display_name or "Outreach", sender.address))
    message["To"] = to
    message["Subject"] = subject
    message_id = make_msgid(domain=sender.address.rsplit("@", 1)[-1])
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    built = BuiltMessage(
        data=message.as_bytes(),
        message_id=message_id,
        subject=subject,
        sender=sender.address,
        recipient=to,
        text=text,
    )
    transport = runtime.transport_for(mailbox)
    if isinstance(transport, OutboxTransport):
        transport.write(built, f"notification-{notification_id}")  # never a touch's file name
    else:
        transport.send(built, notification_id)


def title(lead: Lead) -> str:
    """``Ada Winter (Northwind Traders)`` for a subject line; the address when no name."""
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part) or lead.email
    return f"{name} ({lead.company})" if lead.company else name


def who(lead: Lead) -> str:
    """``Ada Winter <ada@northwind.test>, Northwind Traders`` for a message's text."""
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part)
    company = f", {lead.company}" if lead.company else ""
    return f"{name} <{lead.email}>{company}" if name else f"{lead.email}{company}"


def _rep_label(rep: Rep | None, name: str | None) -> str:
    return (rep.full_name or rep.name) if rep is not None else (name or "-")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


__all__ = [
    "EMAIL",
    "Notice",
    "notice_for",
    "record",
    "send",
    "tasks_due_today",
    "title",
    "who",
    "zone",
]
