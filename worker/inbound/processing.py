"""Process one stored inbound message: match it, understand it, act on it — one transaction."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.inbound.matching import MAX_PARSE_BYTES, UNSUBSCRIBE_TOKEN, match_message, match_stored
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


def process_stored(
    session: Session, runtime: Runtime, inbound: InboundMessage, at: datetime
) -> str:
    """Match, classify and act on ``inbound``; return the intent acted on, or its status."""
    message = parse(inbound.raw) if inbound.size <= MAX_PARSE_BYTES else None
    status = match_stored(session, inbound, at, _token_secret(session, runtime), message)
    if message is None or status not in (InboundStatus.MATCHED, InboundStatus.UNMATCHED):
        return status
    found = _classify(inbound, message, runtime)
    by_token = inbound.matched_by == UNSUBSCRIBE_TOKEN
    if by_token:  # our own mailto link, token intact: no guessing needed
        found = replace(
            found,
            intent="unsubscribe",
            confidence=1.0,
            return_date=None,
            referral_email=None,
            bounced_recipients=(),
            reasons=("mailto unsubscribe token",),
        )
    store_classification(inbound, found, at)
    if status == InboundStatus.UNMATCHED:
        return status
    act_on_reply(
        session,
        runtime.catalog,
        ReplyPolicy.from_settings(runtime.settings),
        inbound,
        found,
        at=at,
    )
    if by_token:
        events.record(
            session, EventKind.UNSUBSCRIBED, at=at, lead_id=inbound.lead_id, cause="mailto"
        )
    inbound.status = InboundStatus.PROCESSED
    return found.intent


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


def _classify(inbound: InboundMessage, message: Message, runtime: Runtime) -> Classification:
    try:
        return classify_message(
            message, received_at=inbound.received_at, own_addresses=own_addresses(runtime)
        )
    except Exception as exc:  # the classifier must never lose a message
        log.warning("inbound %r could not be classified: %s", inbound.id, exc)
        return Classification("unknown", 0.0, reasons=(f"classifier failed: {exc}",))
