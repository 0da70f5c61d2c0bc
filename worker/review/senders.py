"""A message from an unknown sender (``inbound_unmatched``): what a rep can make of it.

``attach``: the message belongs to an existing lead (the rep names its address); it is
matched to that lead — to the last email sent to it — and processed as its reply, exactly as
if the matcher had found it (the timeline shows it, the sequence's reply rules act on it).
``create-lead``: the sender becomes a lead (address and name from ``From``), then the message
is attached to it. ``suppress-sender``: the sender's address goes on the suppression list.
``dismiss``: not a lead; nothing changes but the item.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import getaddresses

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.sequences import Catalog
from worker.errors import OutreachError
from worker.inbound.matching import MAX_PARSE_BYTES, decoded_header
from worker.inbound.reactions import ReplyPolicy, act_on_reply
from worker.leads import lifecycle
from worker.leads.addresses import normalise_email
from worker.store import events
from worker.store.models import InboundMessage, Lead, ReviewItem, Touch
from worker.understanding import INTENTS, Classification
from worker.understanding.mime import parse
from worker.vocabulary import (
    PIPELINE_STAGES,
    EventKind,
    InboundStatus,
    LeadStatus,
    ReviewAction,
    ReviewReason,
    TouchStatus,
)

SENDER_ACTIONS: tuple[ReviewAction, ...] = (
    ReviewAction.ATTACH,
    ReviewAction.CREATE_LEAD,
    ReviewAction.SUPPRESS_SENDER,
    ReviewAction.DISMISS,
)
MATCHED_BY_REP = "rep"


def unmatched_message(session: Session, item: ReviewItem, action: str) -> InboundMessage:
    """The unmatched message of ``item``; OutreachError when the item is not about one."""
    inbound = session.get(InboundMessage, item.inbound_id) if item.inbound_id else None
    if (
        item.reason != ReviewReason.INBOUND_UNMATCHED
        or inbound is None
        or inbound.status != InboundStatus.UNMATCHED
    ):
        raise OutreachError(
            f"Review item {item.id} is not about a message from an unknown sender; "
            f"{action} applies only to those."
        )
    return inbound


def lead_to_attach(session: Session, item: ReviewItem, email: str | None) -> Lead:
    """The existing lead ``email`` names, for ``attach``; OutreachError when there is none."""
    if not email:
        raise OutreachError(
            f"attach needs the lead's address — e.g. 'outreach review resolve {item.id} "
            "--action attach --lead ada@example.com'."
        )
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise OutreachError(f"Cannot attach review item {item.id}: {exc}.") from exc
    lead = session.scalar(select(Lead).where(Lead.email == address))
    if lead is None:
        raise OutreachError(
            f"No lead {address} — check the address, or resolve with create-lead to make "
            "the sender a lead."
        )
    return lead


def act_on_sender(
    session: Session,
    catalog: Catalog,
    policy: ReplyPolicy,
    item: ReviewItem,
    inbound: InboundMessage,
    action: str,
    *,
    lead: Lead | None,
    at: datetime,
) -> Lead | None:
    """Apply one of ``SENDER_ACTIONS``; the lead the message now belongs to, if any."""
    if action == ReviewAction.DISMISS:
        return None
    sender = inbound.from_address
    if action == ReviewAction.SUPPRESS_SENDER:
        if not sender:
            raise OutreachError(f"The message of review item {item.id} names no sender.")
        lifecycle.suppress(session, sender, reason="rep: unknown sender", at=at)
        return None
    if action == ReviewAction.CREATE_LEAD:
        lead = _create_lead(session, item, inbound, at)
    assert lead is not None
    attach(session, catalog, policy, inbound, lead, at=at)
    item.lead_id = lead.id
    return lead


def attach(
    session: Session,
    catalog: Catalog,
    policy: ReplyPolicy,
    inbound: InboundMessage,
    lead: Lead,
    *,
    at: datetime,
) -> None:
    """Match ``inbound`` to ``lead`` (its last email sent, if any) and act on it as its reply,
    with the classification it was given when it arrived."""
    touch_id = session.scalar(
        select(Touch.id)
        .where(
            Touch.lead_id == lead.id,
            Touch.status.in_((TouchStatus.SENT, TouchStatus.DELIVERED)),
        )
        .order_by(Touch.finished_at.desc().nulls_last(), Touch.id.desc())
        .limit(1)
    )
    inbound.lead_id = lead.id
    inbound.touch_id = touch_id
    inbound.matched_by = MATCHED_BY_REP
    inbound.error = None
    inbound.status = InboundStatus.PROCESSED
    events.record(
        session,
        EventKind.REPLY_RECEIVED,
        at=at,
        lead_id=lead.id,
        touch_id=touch_id,
        cause=MATCHED_BY_REP,
        inbound_id=inbound.id,
        subject=inbound.subject,
    )
    session.flush()
    act_on_reply(session, catalog, policy, inbound, _classification(inbound), at=at)


def _classification(inbound: InboundMessage) -> Classification:
    intent = inbound.intent if inbound.intent in INTENTS else "unknown"
    return Classification(
        intent=intent,
        confidence=inbound.confidence or 0.0,
        return_date=inbound.return_date,
        referral_email=inbound.referral_email,
        text=inbound.reply_text or "",
        reasons=("attached to the lead by a rep",),
    )


def _create_lead(session: Session, item: ReviewItem, inbound: InboundMessage, at: datetime) -> Lead:
    """A new lead for the sender of ``inbound`` (first stage, no sequence yet)."""
    if not inbound.from_address:
        raise OutreachError(f"The message of review item {item.id} names no sender.")
    try:
        address = normalise_email(inbound.from_address)
    except ValueError as exc:
        raise OutreachError(
            f"Cannot make the sender of review item {item.id} a lead: {exc}."
        ) from exc
    if session.scalar(select(Lead.id).where(Lead.email == address)) is not None:
        raise OutreachError(
            f"{address} is already a lead — resolve with attach --lead {address} instead."
        )
    first, last = _sender_name(inbound)
    lead = Lead(
        email=address,
        first_name=first,
        last_name=last,
        stage=PIPELINE_STAGES[0],
        status=LeadStatus.ACTIVE,
        fields={},
        created_at=at,
        updated_at=at,
    )
    session.add(lead)
    session.flush()
    events.record(
        session, EventKind.LEAD_CREATED, at=at, lead_id=lead.id, cause="rep: unknown sender"
    )
    return lead


def _sender_name(inbound: InboundMessage) -> tuple[str | None, str | None]:
    """First and last name from the ``From`` header's display name (None when it has none)."""
    if inbound.size > MAX_PARSE_BYTES:
        return None, None
    try:
        message = parse(inbound.raw)
        pairs = getaddresses([decoded_header(v) for v in message.get_all("From") or []])
    except Exception:  # a header we cannot read: the address alone will do
        return None, None
    name = pairs[0][0].strip().strip('"') if pairs else ""
    if not name or "@" in name:
        return None, None
    if "," in name:  # "Lovelace, Ada"
        last, _, first = name.partition(",")
        return first.strip()[:200] or None, last.strip()[:200] or None
    first, _, last = name.partition(" ")
    return first[:200], last.strip()[:200] or None


__all__ = ["SENDER_ACTIONS", "act_on_sender", "attach", "lead_to_attach", "unmatched_message"]
