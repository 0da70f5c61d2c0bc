"""What a rep's reply answers, which mailbox it goes from, and the message itself.

The reply answers the queue item's inbound message, else the lead's latest inbound message
(bounces left out), else the last email sent to the lead. It goes from the mailbox that wrote
to the lead (the answered touch's, else the open enrollment's, else the last touch's, else
the mailbox of its latest enrollment). The message is built like every other email of the
product (``worker.transports.wire``): one text/plain part, headers on one line each, ids taken
from stored headers only when they look like message ids, so nothing a lead wrote can
inject a header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.parser import BytesParser
from email.policy import compat32
from email.utils import format_datetime, formataddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.mailboxes import MailboxSpec
from worker.authoring.templates import one_line
from worker.delivery.rendering import RE_PREFIX, new_message_id
from worker.errors import OutreachError
from worker.leads.enrollment import OPEN_ENROLLMENT_STATUSES
from worker.mailboxes.pools import previous_mailboxes
from worker.runtime import Runtime
from worker.store.models import Enrollment, InboundMessage, Lead, ReviewItem, Touch
from worker.transports.message import BuiltMessage
from worker.transports.wire import plain_text_bytes
from worker.vocabulary import TouchStatus

_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_RE = re.compile(r"^\s*(re|aw|sv|antw)\s*:\s*", re.IGNORECASE)
# A thread's References keep its first message and the latest ones (RFC 5322 3.6.4 advice).
MAX_REFERENCES = 20
_NOT_ANSWERED = ("bounce_hard", "bounce_soft")
_SENT = (TouchStatus.SENT, TouchStatus.DELIVERED)


@dataclass(frozen=True)
class Answered:
    """The message a reply answers: its id, its thread's ids, its subject, where it is."""

    message_id: str
    references: tuple[str, ...]
    subject: str
    inbound_id: int | None = None
    touch_id: int | None = None


def message_ids(text: str | None) -> list[str]:
    """The message ids in a header value, in order, each once; nothing else of it."""
    seen: list[str] = []
    for found in _MESSAGE_ID.findall(text or ""):
        if found not in seen:
            seen.append(found)
    return seen


def answered_message(session: Session, lead: Lead, item: ReviewItem | None) -> Answered | None:
    """What a reply to ``lead`` (from ``item``, when given) answers; None: nothing to answer."""
    if item is not None and item.inbound_id is not None:
        inbound = session.get(InboundMessage, item.inbound_id)
        if inbound is not None and inbound.lead_id == lead.id:
            found = _from_inbound(inbound)
            if found is not None:
                return found
    latest = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.lead_id == lead.id,
            InboundMessage.message_id.is_not(None),
            InboundMessage.intent.is_(None) | InboundMessage.intent.not_in(_NOT_ANSWERED),
        )
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(5)
    )
    for inbound in latest:
        found = _from_inbound(inbound)
        if found is not None:
            return found
    touch = last_sent_touch(session, lead.id)
    if touch is None or not message_ids(touch.message_id):
        return None
    enrollment = session.get(Enrollment, touch.enrollment_id)
    thread = message_ids(enrollment.thread_message_id if enrollment else None)
    own = message_ids(touch.message_id)[0]
    return Answered(
        message_id=own,
        references=tuple(i for i in thread if i != own),
        subject=touch.subject or "",
        touch_id=touch.id,
    )


def _from_inbound(inbound: InboundMessage) -> Answered | None:
    ids = message_ids(inbound.message_id)
    if not ids:
        return None
    headers = BytesParser(policy=compat32).parsebytes(inbound.raw or b"", headersonly=True)
    references = message_ids(str(headers.get("References") or "")) or message_ids(
        str(headers.get("In-Reply-To") or "")
    )
    return Answered(
        message_id=ids[0],
        references=tuple(i for i in references if i != ids[0]),
        subject=inbound.subject or "",
        inbound_id=inbound.id,
        touch_id=inbound.touch_id,
    )


def last_sent_touch(session: Session, lead_id: int) -> Touch | None:
    """The email most recently sent to the lead."""
    return session.scalars(
        select(Touch)
        .where(Touch.lead_id == lead_id, Touch.status.in_(_SENT), Touch.message_id.is_not(None))
        .order_by(Touch.finished_at.desc(), Touch.id.desc())
        .limit(1)
    ).first()


def reply_mailbox(
    session: Session, runtime: Runtime, lead: Lead, answered: Answered | None
) -> MailboxSpec:
    """The mailbox the lead hears from (see the module); OutreachError when none has."""
    name: str | None = None
    if answered is not None and answered.touch_id is not None:
        touch = session.get(Touch, answered.touch_id)
        name = touch.mailbox if touch is not None else None
    if name is None:
        enrollment = session.scalars(
            select(Enrollment)
            .where(Enrollment.lead_id == lead.id, Enrollment.status.in_(OPEN_ENROLLMENT_STATUSES))
            .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())
            .limit(1)
        ).first()
        if enrollment is not None:
            name = enrollment.mailbox or _sequence_mailbox(runtime, enrollment.sequence)
    if name is None:
        touch = last_sent_touch(session, lead.id)
        name = touch.mailbox if touch is not None else None
    if name is None:
        name = previous_mailboxes(session, [lead.id]).get(lead.id)
    if name is None:
        raise OutreachError(
            f"No mailbox has written to {lead.email} yet — enroll the lead in a sequence "
            "first; a reply goes from the mailbox the lead knows."
        )
    return runtime.mailboxes.sender_for(name)


def _sequence_mailbox(runtime: Runtime, sequence: str) -> str | None:
    loaded = runtime.catalog.sequences.get(sequence)
    return loaded.spec.mailbox if loaded is not None else None


def reply_subject(subject: str) -> str:
    """``Re: `` + the subject, on one line; never ``Re: Re:`` (nor ``Re: AW:``)."""
    base = one_line(subject)
    while _RE.match(base):
        base = _RE.sub("", base, count=1)
    return RE_PREFIX + (base or "(no subject)")


def signature_of(mailbox: MailboxSpec, language: str) -> str:
    """The mailbox's ``signature:``, else a sign-off from its name, title, company and phone."""
    if mailbox.signature:
        return mailbox.signature.strip()
    closing = "Viele Grüße" if language == "de" else "Best,"
    title = ", ".join(part for part in (mailbox.title, mailbox.company) if part)
    lines = [closing, mailbox.display_name or mailbox.address, title, mailbox.phone or ""]
    return "\n".join(line for line in lines if line)


def with_signature(body: str, mailbox: MailboxSpec, language: str) -> str:
    """The rep's text (line ends normalised, trailing space dropped) and the signature."""
    text = "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").split("\n")).strip()
    return f"{text}\n\n{signature_of(mailbox, language)}\n"


def build_reply(
    mailbox: MailboxSpec, lead: Lead, answered: Answered, text: str, sent_at: datetime
) -> BuiltMessage:
    """The reply as bytes: From the mailbox, To the lead, in the answered message's thread."""
    subject = reply_subject(answered.subject)
    references = [*answered.references, answered.message_id]
    if len(references) > MAX_REFERENCES:
        references = [references[0], *references[-(MAX_REFERENCES - 1) :]]
    domain = mailbox.address.rsplit("@", 1)[-1]
    message_id = new_message_id(domain)
    to_name = one_line(" ".join(filter(None, [lead.first_name, lead.last_name])))
    headers = [
        ("From", _address(one_line(mailbox.display_name or ""), mailbox.address)),
        ("To", _address(to_name, lead.email)),
        ("Subject", subject if subject.isascii() else Header(subject, "utf-8").encode()),
        ("Date", format_datetime(sent_at)),
        ("Message-ID", message_id),
        ("In-Reply-To", answered.message_id),
        ("References", " ".join(references)),
    ]
    return BuiltMessage(
        data=plain_text_bytes(headers, text),
        message_id=message_id,
        subject=subject,
        sender=mailbox.address,
        recipient=lead.email,
        text=text,
    )


def _address(display_name: str, email: str) -> str:
    return formataddr((display_name, email), charset="utf-8") if display_name else email


__all__ = [
    "MAX_REFERENCES",
    "Answered",
    "answered_message",
    "build_reply",
    "last_sent_touch",
    "message_ids",
    "reply_mailbox",
    "reply_subject",
    "signature_of",
    "with_signature",
]
