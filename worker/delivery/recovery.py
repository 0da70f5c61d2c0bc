"""Recover touches whose sender stopped: requeue, settle as unknown, or finish the bookkeeping.

A touch in flight is held by a process (``Touch.holder``, ``operations.heartbeats``) or, when
the process had no heartbeat, only by its delivery lease (``OUTREACH_DELIVERY_LEASE_S`` from
the hand-over). Once its holder is known dead, or its lease ran out:

- ``claimed`` (never handed over) → ``queued`` again, enqueued by the same tick;
- ``queued`` in a dead process's in-process queue → enqueued again;
- ``delivered`` (the server accepted it) → recorded as sent, with its next step scheduled;
- ``sending`` (handed over, no answer recorded) → ``unknown``, flagged for a rep, never resent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlalchemy.orm import Session

from worker.delivery.recording import Accepted, record_accepted
from worker.leads.flags import flag
from worker.operations.heartbeats import dead_among, forget
from worker.runtime import Runtime
from worker.store import events
from worker.store.models import Enrollment, Lead, Touch
from worker.vocabulary import EventKind, ReviewReason, TouchStatus

log = logging.getLogger(__name__)

_HELD = (TouchStatus.CLAIMED, TouchStatus.SENDING, TouchStatus.DELIVERED)


@dataclass
class Recovery:
    """What one recovery pass did, by touch id."""

    requeued: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    recorded_sent: list[int] = field(default_factory=list)
    dead_holders: set[str] = field(default_factory=set)


def recover(runtime: Runtime) -> Recovery:
    """One pass over the touches of dead holders and of expired leases."""
    now = runtime.clock.now()
    lease_start = now - timedelta(seconds=runtime.settings.delivery_lease_s)
    found = Recovery()
    with runtime.sessions.begin() as session:
        found.dead_holders = _dead_holders(session, runtime)
        gone = _gone(found.dead_holders, lease_start)
        found.requeued = _requeue(session, gone, found.dead_holders)
        found.unknown = _settle_unknown(session, gone, now)
        delivered = _delivered(session, runtime, gone)
        forget(session, runtime.settings)
    for token, batch in delivered.items():
        outcomes = record_accepted(runtime, token, batch, cause="recovered")
        found.recorded_sent += [outcome.touch_id for outcome in outcomes]
    if found.requeued or found.unknown or found.recorded_sent:
        log.info(
            "recovered touches of stopped senders: %d requeued, %d recorded as sent, "
            "%d delivery unknown",
            len(found.requeued),
            len(found.recorded_sent),
            len(found.unknown),
            extra={
                "requeued": len(found.requeued),
                "recorded_sent": len(found.recorded_sent),
                "unknown": len(found.unknown),
                "holders": sorted(found.dead_holders),
                "event": "recovered",
            },
        )
    return found


def _dead_holders(session: Session, runtime: Runtime) -> set[str]:
    held = session.scalars(
        select(Touch.holder)
        .where(
            Touch.holder.is_not(None),
            or_(
                Touch.status.in_(_HELD),
                and_(Touch.status == TouchStatus.QUEUED, Touch.enqueued_at.is_not(None)),
            ),
        )
        .distinct()
    )
    return dead_among(session, runtime.settings, [h for h in held if h is not None])


def _gone(dead: set[str], lease_start: datetime) -> ColumnElement[bool]:
    """A held touch whose holder is dead or whose lease (from its hand-over) ran out."""
    holder_dead = Touch.holder.in_(dead) if dead else false()
    return or_(holder_dead, Touch.claimed_at < lease_start)


def _requeue(session: Session, gone: ColumnElement[bool], dead: set[str]) -> list[int]:
    released = list(
        session.scalars(
            update(Touch)
            .where(Touch.status == TouchStatus.CLAIMED, gone)
            .values(
                status=TouchStatus.QUEUED,
                claim_token=None,
                claimed_at=None,
                enqueued_at=None,
                holder=None,
            )
            .returning(Touch.id)
        )
    )
    if dead:  # their in-process queue went with them
        released += session.scalars(
            update(Touch)
            .where(
                Touch.status == TouchStatus.QUEUED,
                Touch.holder.in_(dead),
                Touch.enqueued_at.is_not(None),
            )
            .values(enqueued_at=None, holder=None)
            .returning(Touch.id)
        )
    return released


def _settle_unknown(session: Session, gone: ColumnElement[bool], now: datetime) -> list[int]:
    settled = list(
        session.execute(
            update(Touch)
            .where(Touch.status == TouchStatus.SENDING, gone)
            .values(
                status=TouchStatus.UNKNOWN,
                last_error="delivery unknown: its sender stopped before recording the result",
                finished_at=now,
            )
            .returning(Touch.id, Touch.lead_id, Touch.sequence, Touch.step_index, Touch.holder)
        )
    )
    for touch in settled:
        events.record(
            session,
            EventKind.DELIVERY_UNKNOWN,
            at=now,
            lead_id=touch.lead_id,
            touch_id=touch.id,
            sequence=touch.sequence,
            step_index=touch.step_index,
            cause="sender_stopped",
            holder=touch.holder,
        )
        flag(
            session,
            touch.lead_id,
            ReviewReason.DELIVERY_UNKNOWN,
            at=now,
            touch_id=touch.id,
            detail=(
                f"touch {touch.id} (step {touch.step_index + 1} of {touch.sequence}) was handed "
                "to the mail server, but its sender stopped before the answer was recorded; it "
                "may or may not have been sent"
            ),
            sequence=touch.sequence,
            step_index=touch.step_index,
        )
        log.warning(
            "touch %s: delivery unknown (its sender stopped)",
            touch.id,
            extra={"touch_id": touch.id, "lead_id": touch.lead_id, "event": "unknown"},
        )
    return [touch.id for touch in settled]


def _delivered(
    session: Session, runtime: Runtime, gone: ColumnElement[bool]
) -> dict[str, list[Accepted]]:
    """Accepted sends whose bookkeeping was never written, grouped by claim token."""
    rows = session.execute(
        select(Touch, Enrollment, Lead)
        .join(Enrollment, Enrollment.id == Touch.enrollment_id)
        .join(Lead, Lead.id == Touch.lead_id)
        .where(Touch.status == TouchStatus.DELIVERED, gone)
    )
    batches: dict[str, list[Accepted]] = defaultdict(list)
    for touch, enrollment, lead in rows:
        batches[touch.claim_token or ""].append(
            Accepted(
                touch_id=touch.id,
                enrollment_id=enrollment.id,
                lead_id=lead.id,
                sequence=touch.sequence,
                step_index=touch.step_index,
                mailbox=touch.mailbox or "",
                message_id=touch.message_id or "",
                subject=touch.subject or "",
                starts_thread=_starts_thread(runtime, touch, enrollment),
                zone=lead.timezone,
                country=lead.country,
                version=touch.version,
            )
        )
    return dict(batches)


def _starts_thread(runtime: Runtime, touch: Touch, enrollment: Enrollment) -> bool:
    """As ``claiming`` decided it: a first step, a step that starts its own thread, or no
    thread yet (a step gone from its sequence is taken as continuing the thread)."""
    loaded = runtime.catalog.sequences.get(touch.sequence)
    steps = loaded.spec.steps if loaded is not None else []
    same_thread = steps[touch.step_index].same_thread if touch.step_index < len(steps) else True
    return touch.step_index == 0 or not same_thread or not enrollment.thread_message_id


__all__ = ["Recovery", "recover"]
