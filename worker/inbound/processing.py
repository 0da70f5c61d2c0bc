"""Process one stored inbound message: match it, understand it, act on it — one transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.inbound.batch import Batch
from worker.inbound.matching import (
    MAX_PARSE_BYTES,
    UNSUBSCRIBE_TOKEN,
    Match,
    match_many,
    match_message,
    match_stored,
)
from worker.inbound.reactions import ReplyPolicy, act_on_reply, store_classification
from worker.leads import lifecycle
from worker.runtime import Runtime
from worker.store import events
from worker.store.models import AppState, InboundMessage, ReviewItem
from worker.store.tokens import _KEY_NAME as TOKEN_SECRET_KEY
from worker.understanding import Classification, classify_message
from worker.understanding.mime import parse
from worker.vocabulary import EventKind, InboundStatus, ReviewReason

log = logging.getLogger(__name__)


def own_addresses(runtime: Runtime) -> tuple[str, ...]:
    """Our sending addresses and their domains (never a referral, never a lead's reply)."""
    try:
        addresses = [spec.address for spec in runtime.mailboxes.by_name.values()]
    except Exception:  # no or broken mailboxes.yaml: `outreach check` reports it
        return ()
    return tuple(addresses) + tuple({a.rsplit("@", 1)[-1] for a in addresses})


def process_many(
    session: Session, runtime: Runtime, inbounds: Sequence[InboundMessage]
) -> list[str]:
    """Process ``inbounds`` in order, as ``process_stored`` one after the other would, with
    what they match read for all of them at once (``Batch``) and their events written in
    one statement; the session writes the rest when it flushes."""
    messages = [parse(i.raw) if i.size <= MAX_PARSE_BYTES else None for i in inbounds]
    secret = _token_secret(session, runtime)
    readable = {n: m for n, m in enumerate(messages) if m is not None and m.keys()}
    matches = match_many(session, list(readable.values()), secret)
    found: dict[int, Match | Exception] = dict(zip(readable, matches, strict=True))
    matched = [m for m in matches if isinstance(m, Match)]
    batch = Batch.load(
        session,
        {m.lead_id for m in matched if m.lead_id is not None},
        {m.touch_id for m in matched if m.touch_id is not None},
    )
    context = _Context(
        secret, own_addresses(runtime), ReplyPolicy.from_settings(runtime.settings), batch
    )
    with events.buffered(session):
        return [
            _process(
                session, runtime, inbound, runtime.clock.now(), messages[n], found.get(n), context
            )
            for n, inbound in enumerate(inbounds)
        ]


@dataclass(frozen=True)
class _Context:
    """What every message of a batch shares."""

    secret: bytes | None
    own: tuple[str, ...]
    policy: ReplyPolicy
    batch: Batch | None = None


def process_stored(
    session: Session, runtime: Runtime, inbound: InboundMessage, at: datetime
) -> str:
    """Match, classify and act on ``inbound``; return the intent acted on, or its status."""
    message = parse(inbound.raw) if inbound.size <= MAX_PARSE_BYTES else None
    context = _Context(
        _token_secret(session, runtime),
        own_addresses(runtime),
        ReplyPolicy.from_settings(runtime.settings),
    )
    return _process(session, runtime, inbound, at, message, None, context)


def _process(
    session: Session,
    runtime: Runtime,
    inbound: InboundMessage,
    at: datetime,
    message: Message | None,
    found: Match | Exception | None,
    context: _Context,
) -> str:
    status = match_stored(session, inbound, at, context.secret, message, found)
    if message is None or status not in (InboundStatus.MATCHED, InboundStatus.UNMATCHED):
        return status
    classified = _classify(inbound, message, context.own)
    by_token = inbound.matched_by == UNSUBSCRIBE_TOKEN
    if by_token:  # our own mailto link, token intact: no guessing needed
        classified = replace(
            classified,
            intent="unsubscribe",
            confidence=1.0,
            return_date=None,
            referral_email=None,
            bounced_recipients=(),
            reasons=("mailto unsubscribe token",),
        )
    store_classification(inbound, classified, at)
    if status == InboundStatus.UNMATCHED:
        return status
    # Set before acting, so one UPDATE writes the message; a failure rolls it back with the rest.
    inbound.status = InboundStatus.PROCESSED
    act_on_reply(
        session,
        runtime.catalog,
        context.policy,
        inbound,
        classified,
        at=at,
        batch=context.batch,
    )
    if by_token:
        events.record(
            session, EventKind.UNSUBSCRIBED, at=at, lead_id=inbound.lead_id, cause="mailto"
        )
    return classified.intent


def _token_secret(session: Session, runtime: Runtime) -> bytes | None:
    """The key unsubscribe tokens are signed with, read in this transaction (loading it in a
    second one would wait for this one's write lock on SQLite); None while none exists."""
    if runtime.settings.secret_key:
        return runtime.settings.secret_key.encode()
    value = session.scalar(select(AppState.value).where(AppState.key == TOKEN_SECRET_KEY))
    return value.encode() if value else None


def mark_failed(
    session: Session, runtime: Runtime, inbound_id: int, at: datetime, error: Exception
) -> None:
    """Keep a message whose processing failed and put it in front of a rep; the sequence of
    the lead it belongs to (when that can still be told) is paused, so no follow-up goes out
    before someone has read the reply."""
    inbound = session.get(InboundMessage, inbound_id)
    if inbound is None:
        return
    detail = f"processing failed: {type(error).__name__}: {error}"[:2000]
    inbound.status = InboundStatus.FAILED
    inbound.error = detail
    inbound.lead_id = _lead_of(session, runtime, inbound)
    if inbound.lead_id is not None:
        enrollments = lifecycle.open_enrollments(session, inbound.lead_id)
        lifecycle.pause(session, enrollments, at=at, cause="reply could not be processed")
    session.add(
        ReviewItem(
            lead_id=inbound.lead_id,
            inbound_id=inbound.id,
            reason=ReviewReason.INBOUND_FAILED,
            detail=detail,
            created_at=at,
        )
    )


def _lead_of(session: Session, runtime: Runtime, inbound: InboundMessage) -> int | None:
    """Best effort: the lead a message whose processing failed belongs to, else None."""
    if inbound.size > MAX_PARSE_BYTES:
        return None
    try:
        with session.begin_nested():
            secret = _token_secret(session, runtime)
            return match_message(session, parse(inbound.raw), secret).lead_id
    except Exception as exc:  # the failure itself may lie here: keep the message all the same
        log.warning("inbound %r: no lead found after the failure: %s", inbound.id, exc)
        return None


def _classify(inbound: InboundMessage, message: Message, own: tuple[str, ...]) -> Classification:
    try:
        return classify_message(message, received_at=inbound.received_at, own_addresses=own)
    except Exception as exc:  # the classifier must never lose a message
        log.warning("inbound %r could not be classified: %s", inbound.id, exc)
        return Classification("unknown", 0.0, reasons=(f"classifier failed: {exc}",))
