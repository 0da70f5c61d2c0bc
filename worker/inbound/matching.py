"""Match an inbound message to its lead and touch.

In order: a valid unsubscribe token in the Subject (``unsubscribe TOKEN``, what the mailto
link of our List-Unsubscribe header writes; whichever address it comes from); the Message-IDs
it refers to (In-Reply-To, References, and for bounces and spam complaints the original message
quoted inside the report) against the Message-IDs the worker sent, the first of them in that
order that is one of ours winning; then the failed recipient of a delivery report or the
complaining recipient of a feedback report; then the sender's address. A message that matches
nothing, or cannot be parsed, goes to the review queue — never dropped. ``match_many`` matches
a batch of messages with a few queries for all of them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.store import events
from worker.store.models import InboundMessage, Lead, ReviewItem, Touch
from worker.store.tokens import verify_token
from worker.vocabulary import EventKind, InboundStatus, ReviewReason

log = logging.getLogger(__name__)

MAX_PARSE_BYTES = 10 * 1024 * 1024
_MESSAGE_IDS = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_FINAL_RECIPIENT = re.compile(r"^(?:Final|Original)-Recipient:\s*rfc822;\s*(\S+)", re.I | re.M)
_ORIGINAL_RCPT = re.compile(r"^Original-Rcpt-To:\s*<?([^<>\s@]+@[^<>\s@]+)>?", re.I | re.M)
_EMBEDDED_ID = re.compile(r"(?im)^Message-ID:\s*(<[^<>\s]+>)")
_EMBEDDED = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
_UNSUBSCRIBE_TOKEN = re.compile(r"\bunsubscribe\s+(\d{1,18}\.[0-9a-f]{32})\b", re.I)
UNSUBSCRIBE_TOKEN = "unsubscribe_token"  # noqa: S105 (how a message was matched)


@dataclass(frozen=True)
class Match:
    """Who an inbound message belongs to, and how that was decided."""

    lead_id: int | None
    touch_id: int | None
    matched_by: str | None


def referenced_ids(message: Message) -> list[str]:
    """Message-IDs the message refers to, most specific first (duplicates removed)."""
    found: list[str] = []
    for header in ("In-Reply-To", "References"):
        for value in message.get_all(header) or []:
            found.extend(_MESSAGE_IDS.findall(str(value)))
    for part in message.walk():
        if part.get_content_type() in _EMBEDDED:
            found.extend(_embedded_ids(part))
    return list(dict.fromkeys(found))


def _embedded_ids(part: Message) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list):
        ids: list[str] = []
        for inner in payload:
            if isinstance(inner, Message):
                ids.extend(_MESSAGE_IDS.findall(str(inner.get("Message-ID", ""))))
        return ids
    raw = part.get_payload(decode=True) or b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return _EMBEDDED_ID.findall(text)


def failed_recipients(message: Message) -> list[str]:
    """Addresses a delivery status report says could not be delivered to, or a spam
    complaint's feedback report (RFC 5965) names as the complaining recipient."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/feedback-report"):
            payload = part.get_payload()
            chunks = payload if isinstance(payload, list) else [payload]
            pattern = _FINAL_RECIPIENT if kind == "message/delivery-status" else _ORIGINAL_RCPT
            for chunk in chunks:
                found.extend(pattern.findall(str(chunk)))
    return [address.strip("<>").lower() for address in found]


def token_lead(message: Message, secret: bytes) -> int | None:
    """The lead whose valid unsubscribe token the Subject carries, else None."""
    found = _UNSUBSCRIBE_TOKEN.search(decoded_header(message.get("Subject")))
    return verify_token(secret, found.group(1).lower()) if found else None


def match_message(session: Session, message: Message, secret: bytes | None = None) -> Match:
    """Find the lead and touch of ``message`` (with ``secret``: by unsubscribe token first)."""
    found = match_many(session, [message], secret)[0]
    if isinstance(found, Exception):
        raise found
    return found


def match_many(
    session: Session, messages: Sequence[Message], secret: bytes | None = None
) -> list[Match | Exception]:
    """Match each message as ``match_message`` does, reading the leads and touches of all of
    them in at most three queries; a message whose headers cannot be read gets its exception.

    Reads only leads and touches, which processing never adds or re-addresses: what the
    session holds unflushed (earlier messages of a batch) is written once, at commit, not
    before each query.
    """
    found: list[Match | Exception | None] = [None] * len(messages)
    with session.no_autoflush:
        tokens: dict[int, int] = {}
        for n, message in enumerate(messages):
            try:
                lead_id = token_lead(message, secret) if secret is not None else None
            except Exception as exc:  # kept for this message alone
                found[n] = exc
                continue
            if lead_id is not None:
                tokens[n] = lead_id
        if tokens:
            known = set(select_in(session, select(Lead.id), Lead.id, set(tokens.values())))
            for n, lead_id in tokens.items():
                if lead_id in known:
                    found[n] = Match(lead_id, None, UNSUBSCRIBE_TOKEN)
        referred: dict[int, list[str]] = {}
        for n, message in enumerate(messages):
            if found[n] is None:
                try:
                    referred[n] = referenced_ids(message)
                except Exception as exc:
                    found[n] = exc
        wanted = {message_id for ids in referred.values() for message_id in ids}
        touches = {
            touch.message_id: touch
            for touch in select_in(session, select(Touch), Touch.message_id, wanted)
        }
        for n, ids in referred.items():
            touch = next((touches[i] for i in ids if i in touches), None)  # most specific
            if touch is not None:
                found[n] = Match(touch.lead_id, touch.id, "message_id")
        candidates: dict[int, list[tuple[str, str]]] = {}
        for n, message in enumerate(messages):
            if found[n] is None:
                try:
                    candidates[n] = _candidates(message)
                except Exception as exc:
                    found[n] = exc
        addresses = {address for pairs in candidates.values() for address, _ in pairs if address}
        query = select(Lead.email, Lead.id)
        leads = dict(select_in(session, query, Lead.email, addresses, rows=True))
        for n, pairs in candidates.items():
            found[n] = next(
                (Match(leads[address], None, how) for address, how in pairs if address in leads),
                None,
            )
    return [NO_MATCH if result is None else result for result in found]


NO_MATCH = Match(None, None, None)
_IN_CHUNK = 500  # values per IN list


def _candidates(message: Message) -> list[tuple[str, str]]:
    """Addresses a message may be matched by, in order: failed or complaining recipients of a
    report, then the sender."""
    senders = getaddresses([str(v) for v in message.get_all("From") or []])
    candidates = [(address, "failed_recipient") for address in failed_recipients(message)]
    candidates += [(address.strip().lower(), "sender") for _name, address in senders]
    return candidates


def select_in(
    session: Session, query: Any, column: Any, values: Collection[Any], *, rows: bool = False
) -> list[Any]:
    """``query`` where ``column`` is one of ``values`` (a bounded number per statement: a
    message may refer to very many Message-IDs); its scalars, or its ``rows``."""
    ordered = sorted(values)
    found: list[Any] = []
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = query.where(column.in_(ordered[start : start + _IN_CHUNK]))
        found.extend(session.execute(chunk).all() if rows else session.scalars(chunk).all())
    return found


def match_stored(
    session: Session,
    inbound: InboundMessage,
    at: datetime,
    secret: bytes | None = None,
    message: Message | None = None,
    found: Match | Exception | None = None,
) -> InboundStatus:
    """Match a stored message (parsed here unless ``message`` is given; looked up here unless
    ``found``, from ``match_many``, is given); its new status."""
    if inbound.size > MAX_PARSE_BYTES:
        return _to_review(
            session,
            inbound,
            at,
            InboundStatus.UNPARSEABLE,
            f"larger than {MAX_PARSE_BYTES} bytes; kept raw",
        )
    try:
        if message is None:
            message = message_from_bytes(inbound.raw, policy=compat32)
        if not message.keys():
            return _to_review(
                session, inbound, at, InboundStatus.UNPARSEABLE, "no headers; kept raw"
            )
        inbound.from_address = _first_address(message)
        inbound.subject = decoded_header(message.get("Subject"))[:1000] or None
        if found is None:
            found = match_message(session, message, secret)
        elif isinstance(found, Exception):
            raise found
    except Exception as exc:  # malformed MIME must never stop a batch
        log.warning("inbound %r cannot be parsed: %s", inbound.id, exc)
        return _to_review(
            session, inbound, at, InboundStatus.UNPARSEABLE, f"{type(exc).__name__}: {exc}"
        )
    if found.lead_id is None:
        return _to_review(
            session, inbound, at, InboundStatus.UNMATCHED, "matches no lead or sent email"
        )
    inbound.lead_id = found.lead_id
    inbound.touch_id = found.touch_id
    inbound.matched_by = found.matched_by
    inbound.status = InboundStatus.MATCHED
    events.record(
        session,
        EventKind.REPLY_RECEIVED,
        at=at,
        lead_id=found.lead_id,
        touch_id=found.touch_id,
        cause=found.matched_by,
        inbound_id=inbound.id,
        subject=inbound.subject,
    )
    return InboundStatus.MATCHED


def decoded_header(value: object) -> str:
    """A header as readable text (RFC 2047 encoded words decoded; never raises)."""
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:  # unknown charset or broken encoded word: show it as it came
        text = str(value)
    return text.replace("\x00", "")  # a NUL byte cannot be stored (PostgreSQL refuses it)


def _first_address(message: Message) -> str | None:
    pairs = getaddresses([str(v) for v in message.get_all("From") or []])
    address = pairs[0][1].replace("\x00", "").lower()[:320] if pairs else ""
    return address or None


def _to_review(
    session: Session, inbound: InboundMessage, at: datetime, status: InboundStatus, detail: str
) -> InboundStatus:
    inbound.status = status
    inbound.error = detail
    session.add(
        ReviewItem(
            inbound_id=inbound.id,
            reason=ReviewReason(f"inbound_{status}"),
            detail=detail,
            created_at=at,
        )
    )
    return status
