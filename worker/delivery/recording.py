"""Record what happened to claimed touches: sent (in small batches), deferred, failed, unknown.

Progress is recorded only after the transport confirmed the hand-over. A touch whose result
is never recorded (a crash) stays ``sending`` until its holder is known dead or its lease
expires, and becomes ``unknown`` — flagged for a rep, never resent. One already
``delivered`` is recorded as sent by the recovery (``delivery.recovery``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, case, select
from sqlalchemy.orm import Session

from worker.delivery.claiming import Outcome, Prepared
from worker.leads import lifecycle
from worker.leads.flags import flag, other_open_items
from worker.mailboxes.capacity import count_uncounted_sends
from worker.mailboxes.pauses import after_failure
from worker.runtime import Runtime
from worker.store import events
from worker.store.models import Enrollment, Lead, ReviewItem, Touch
from worker.timing.windows import due_after
from worker.vocabulary import (
    EnrollmentStatus,
    EventKind,
    LeadStatus,
    ReviewAction,
    ReviewReason,
    TouchStatus,
)

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)

_touches: Table = Touch.__table__  # type: ignore[assignment]
_enrollments: Table = Enrollment.__table__  # type: ignore[assignment]
# A claim's own touches whose outcome is still open: ``sending`` or ``delivered``, or
# ``unknown`` when the lease ran out before the transport answered (never one a rep already
# decided on).
_MARK_SENT = (
    _touches.update()
    .where(
        _touches.c.id.in_(bindparam("ids", expanding=True)),
        _touches.c.claim_token == bindparam("token"),
        _touches.c.status.in_((TouchStatus.SENDING, TouchStatus.DELIVERED, TouchStatus.UNKNOWN)),
    )
    .values(status=TouchStatus.SENT, finished_at=bindparam("now"), last_error=None)
    .returning(_touches.c.id)
)
_LATE = select(_touches.c.id).where(
    _touches.c.id.in_(bindparam("ids", expanding=True)),
    _touches.c.claim_token == bindparam("token"),
    _touches.c.status == TouchStatus.UNKNOWN,
)
_NEXT_DUE = case(
    (
        _enrollments.c.status == EnrollmentStatus.ACTIVE,
        bindparam("due", type_=_enrollments.c.next_due_at.type),
    ),
    else_=_enrollments.c.next_due_at,
)
_ADVANCE = (
    _enrollments.update()
    .where(_enrollments.c.id == bindparam("eid"))
    .values(last_message_id=bindparam("mid"), current_step=bindparam("step"), next_due_at=_NEXT_DUE)
)
_ADVANCE_NEW_THREAD = (
    _enrollments.update()
    .where(_enrollments.c.id == bindparam("eid"))
    .values(
        last_message_id=bindparam("mid"),
        thread_message_id=bindparam("mid"),
        thread_subject=bindparam("subj"),
        current_step=bindparam("step"),
        next_due_at=_NEXT_DUE,
    )
)


@dataclass(frozen=True)
class Accepted:
    """What recording one send the server accepted needs."""

    touch_id: int
    enrollment_id: int
    lead_id: int
    sequence: str
    step_index: int
    mailbox: str
    message_id: str
    subject: str
    starts_thread: bool
    zone: str | None = None
    country: str | None = None
    version: str | None = None

    @classmethod
    def of(cls, item: Prepared) -> Accepted:
        return cls(
            touch_id=item.touch_id,
            enrollment_id=item.enrollment_id,
            lead_id=item.lead_id,
            sequence=item.sequence,
            step_index=item.step_index,
            mailbox=item.mailbox,
            message_id=item.built.message_id,
            subject=item.built.subject,
            starts_thread=item.starts_thread,
            zone=item.zone,
            country=item.country,
            version=item.version,
        )


def record_sent(runtime: Runtime, token: str, batch: list[Prepared]) -> list[Outcome]:
    """Mark confirmed sends and schedule each enrollment's next step, in one transaction."""
    if not batch:
        return []
    return record_accepted(runtime, token, [Accepted.of(item) for item in batch])


def record_accepted(
    runtime: Runtime, token: str, batch: list[Accepted], cause: str = "due"
) -> list[Outcome]:
    """``record_sent`` for sends known by their ledger rows (also after a crash: ``cause``
    ``recovered``)."""
    if not batch:
        return []
    now = runtime.clock.now()
    advance: list[dict[str, Any]] = []
    new_thread: list[dict[str, Any]] = []
    logged: list[dict[str, Any]] = []
    schedules = runtime.catalog.schedules
    for item in batch:
        due = None
        if item.sequence in runtime.catalog:  # gone from the catalog: the tick flags the lead
            due = due_after(
                schedules,
                runtime.versions.spec(item.sequence, item.version),
                item.step_index,
                now,
                timezone=item.zone,
                country=item.country,
                lead_id=item.lead_id,
            )
        params = {
            "eid": item.enrollment_id,
            "mid": item.message_id,
            "subj": item.subject,
            "step": item.step_index + 1,
            "due": due if due is not None else now,
        }
        (new_thread if item.starts_thread else advance).append(params)
        logged.append(
            {
                "kind": EventKind.SENT,
                "at": now,
                "lead_id": item.lead_id,
                "touch_id": item.touch_id,
                "sequence": item.sequence,
                "step_index": item.step_index,
                "cause": cause,
                "detail": {
                    "message_id": item.message_id,
                    "subject": item.subject,
                    "mailbox": item.mailbox,
                },
            }
        )
    ids = [item.touch_id for item in batch]
    with runtime.sessions.begin() as session:
        conn = session.connection()
        late = set(conn.scalars(_LATE, {"ids": ids, "token": token}))
        recorded = set(conn.scalars(_MARK_SENT, {"ids": ids, "token": token, "now": now}))
        if late & recorded:
            confirm_late_sends(session, late & recorded, now)
        for touch_id in set(ids) - recorded:
            if cause == "due":  # a recovery racing another one finds it recorded: fine
                log.error("touch %r was sent but its claim is gone; not recording twice", touch_id)
        keep = {item.enrollment_id for item in batch if item.touch_id in recorded}
        advance = [p for p in advance if p["eid"] in keep]
        new_thread = [p for p in new_thread if p["eid"] in keep]
        if advance:
            conn.execute(_ADVANCE, advance)
        if new_thread:
            conn.execute(_ADVANCE_NEW_THREAD, new_thread)
        events.record_many(session, [row for row in logged if row["touch_id"] in recorded])
        sends = Counter(item.mailbox for item in batch if item.touch_id in recorded)
        count_uncounted_sends(runtime, session, sends, now)
    for item in batch:
        if item.touch_id in recorded:
            log.info(
                "touch %s sent: lead %s, %s step %d, mailbox %s, %s%s",
                item.touch_id,
                item.lead_id,
                item.sequence,
                item.step_index + 1,
                item.mailbox,
                item.message_id,
                " (recorded after its sender stopped)" if cause != "due" else "",
                extra={"touch_id": item.touch_id, "lead_id": item.lead_id, "event": "sent"},
            )
    return [Outcome(touch_id, "sent") for touch_id in ids if touch_id in recorded]


def confirm_late_sends(session: Session, touch_ids: set[int], now: datetime) -> None:
    """The transport confirmed touches whose lease had run out: close their open
    ``delivery_unknown`` items as ``sent`` (nobody has to guess any more)."""
    note = "the transport confirmed the send after its lease had run out"
    items = session.scalars(
        select(ReviewItem).where(
            ReviewItem.touch_id.in_(touch_ids),
            ReviewItem.reason == ReviewReason.DELIVERY_UNKNOWN,
            ReviewItem.resolved_at.is_(None),
        )
    )
    for item in items:
        item.resolved_at, item.resolution, item.note = now, ReviewAction.SENT, note
        lead = session.get(Lead, item.lead_id) if item.lead_id is not None else None
        if lead is None:
            continue
        events.record(
            session,
            EventKind.RESOLVED,
            at=now,
            lead_id=lead.id,
            cause=ReviewAction.SENT,
            item=item.id,
            note=note,
        )
        if lead.status == LeadStatus.NEEDS_REVIEW and not other_open_items(session, item):
            lifecycle.settle_status(session, lead, now)
        log.info("touch %r: delivery confirmed late; review item %r closed", item.touch_id, item.id)


def release(session: Session, touch_id: int, token: str, **values: object) -> Touch | None:
    touch = session.scalar(select(Touch).where(Touch.id == touch_id, Touch.claim_token == token))
    if touch is None or touch.status != TouchStatus.SENDING:
        return None
    for key, value in values.items():
        setattr(touch, key, value)
    return touch


def deferred_or_failed(runtime: Runtime, touch_id: int, token: str, error: str) -> Outcome:
    now = runtime.clock.now()
    settings = runtime.settings
    with runtime.sessions.begin() as session:
        touch = session.get(Touch, touch_id)
        if touch is None:
            return Outcome(touch_id, "error", "touch vanished")
        attempts = touch.attempts
        too_old = now - touch.created_at > timedelta(seconds=settings.retry_max_age_s)
        if attempts < settings.retry_max_attempts and not too_old:
            delay = RETRY_BACKOFF_S[min(attempts - 1, len(RETRY_BACKOFF_S) - 1)]
            released = release(
                session,
                touch_id,
                token,
                status=TouchStatus.QUEUED,
                claim_token=None,
                claimed_at=None,
                enqueued_at=None,
                holder=None,
                available_at=now + timedelta(seconds=delay),
                last_error=error,
            )
            if released is not None:
                events.record(
                    session,
                    EventKind.SEND_DEFERRED,
                    at=now,
                    lead_id=released.lead_id,
                    touch_id=touch_id,
                    sequence=released.sequence,
                    step_index=released.step_index,
                    cause="temporary_failure",
                    error=error,
                    retry_in_s=delay,
                )
            log.info("touch %r deferred %ss: %s", touch_id, delay, error)
            return Outcome(touch_id, "deferred", error)
    return failed(
        runtime,
        touch_id,
        token,
        f"gave up after {attempts} attempts: {error}",
        ReviewReason.DELIVERY_FAILED,
    )


def failed(
    runtime: Runtime, touch_id: int, token: str, error: str, reason: ReviewReason
) -> Outcome:
    _settle(
        runtime,
        touch_id,
        token,
        TouchStatus.FAILED,
        kind=EventKind.FAILED,
        cause=reason,
        reason=reason,
        error=error,
    )
    after_failure(runtime, touch_id, reason)  # pause the mailbox when it fails too often
    log.warning("touch %r failed: %s", touch_id, error)
    return Outcome(touch_id, "failed", error)


def unknown(runtime: Runtime, touch_id: int, token: str, error: str) -> Outcome:
    _settle(
        runtime,
        touch_id,
        token,
        TouchStatus.UNKNOWN,
        kind=EventKind.DELIVERY_UNKNOWN,
        cause="transport",
        reason=ReviewReason.DELIVERY_UNKNOWN,
        error=error,
    )
    log.warning("touch %r: delivery unknown: %s", touch_id, error)
    return Outcome(touch_id, "unknown", error)


def _settle(
    runtime: Runtime,
    touch_id: int,
    token: str,
    status: TouchStatus,
    *,
    kind: EventKind,
    cause: str,
    reason: ReviewReason,
    error: str,
) -> None:
    """End our claim with ``status``, record the event and flag the lead for a rep."""
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        touch = release(session, touch_id, token, status=status, finished_at=now, last_error=error)
        if touch is None:
            return
        events.record(
            session,
            kind,
            at=now,
            lead_id=touch.lead_id,
            touch_id=touch_id,
            sequence=touch.sequence,
            step_index=touch.step_index,
            cause=cause,
            error=error,
        )
        flag(
            session,
            touch.lead_id,
            reason,
            at=now,
            touch_id=touch_id,
            detail=error,
            sequence=touch.sequence,
            step_index=touch.step_index,
        )
