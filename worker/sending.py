"""Send touches: atomic claim, re-check at send time, render, hand over, record.

Each touch is claimed with a single conditional UPDATE (``queued`` → ``sending``), so a
duplicated or redelivered queue message, or two overlapping runs, can claim it only once.
Everything that could make the email wrong is checked inside the claim. Progress is recorded
only after the transport confirmed the hand-over; a crash in between leaves the touch in
``sending`` until its lease expires and it becomes ``unknown`` — flagged, never resent.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.orm import Session

from . import events
from .enrollment import suppressed_values
from .errors import (
    DeliveryUnknownError,
    NotFoundError,
    OutreachError,
    PermanentDeliveryError,
    TemplateRenderError,
    TemporaryDeliveryError,
)
from .models import Enrollment, Lead, Touch
from .rendering import BuiltMessage, build_message, render_touch
from .review import flag
from .runtime import Runtime
from .scheduling import add_wait, lead_zone
from .transports import LoginRefusedError

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)

# The hot path's statements, built once on the Core tables (no ORM bulk-update machinery).
_touches: Table = Touch.__table__  # type: ignore[assignment]
_enrollments: Table = Enrollment.__table__  # type: ignore[assignment]
_CLAIM = (
    _touches.update()
    .where(
        _touches.c.id == bindparam("tid"),
        _touches.c.status == "queued",
        _touches.c.available_at <= bindparam("now"),
    )
    .values(
        status="sending",
        claimed_at=bindparam("now"),
        claim_token=bindparam("token"),
        attempts=_touches.c.attempts + 1,
    )
    .returning(
        _touches.c.enrollment_id, _touches.c.sequence, _touches.c.step_index, _touches.c.mailbox
    )
)
_STAMP = (
    _touches.update()
    .where(_touches.c.id == bindparam("tid"))
    .values(message_id=bindparam("mid"), subject=bindparam("subj"), mailbox=bindparam("mbox"))
)
_MARK_SENT = (
    _touches.update()
    .where(_touches.c.id == bindparam("tid"), _touches.c.claim_token == bindparam("token"))
    .values(status="sent", finished_at=bindparam("now"), last_error=None)
    .returning(_touches.c.id)
)


@dataclass(frozen=True)
class Outcome:
    """What happened to one touch: sent, skipped, failed, deferred, unknown or not_claimed."""

    touch_id: int
    result: str
    detail: str = ""


def send_touches(runtime: Runtime, touch_ids: list[int]) -> list[Outcome]:
    """Send each touch at most once; one bad touch never stops the others."""
    outcomes = []
    for touch_id in touch_ids:
        try:
            outcomes.append(send_touch(runtime, touch_id))
        except OutreachError as exc:
            log.error("touch %r: %s", touch_id, exc)
            outcomes.append(Outcome(touch_id, "error", str(exc)))
    return outcomes


def send_touch(runtime: Runtime, touch_id: int) -> Outcome:
    """Claim, check, render and send one touch, then record the result.

    A problem of the sending mailbox (transport URL unset or invalid, login refused) defers
    the touch like a temporary refusal: nothing was handed over and the lead is not to blame.
    """
    token = uuid.uuid4().hex
    prepared = _claim_and_prepare(runtime, touch_id, token)
    if isinstance(prepared, Outcome):
        return prepared
    built, mailbox = prepared.built, prepared.mailbox
    try:
        transport = runtime.transport_for(mailbox)
    except OutreachError as exc:  # e.g. the mailbox's transport URL is unset: nothing was sent
        log.error("touch %r: no transport for mailbox %r: %s", touch_id, mailbox, exc)
        return _deferred_or_failed(runtime, touch_id, token, str(exc))
    try:
        transport.send(built, touch_id)
    except (TemporaryDeliveryError, LoginRefusedError) as exc:
        return _deferred_or_failed(runtime, touch_id, token, str(exc))
    except PermanentDeliveryError as exc:
        return _failed(runtime, touch_id, token, str(exc), reason="delivery_failed")
    except DeliveryUnknownError as exc:
        return _unknown(runtime, touch_id, token, str(exc))
    except Exception as exc:  # a transport bug must not look like "not sent"
        log.exception("touch %r: transport crashed", touch_id)
        return _unknown(runtime, touch_id, token, f"{type(exc).__name__}: {exc}")
    _record_sent(runtime, touch_id, token, prepared)
    return Outcome(touch_id, "sent")


@dataclass(frozen=True)
class Prepared:
    """A claimed, checked and rendered touch, with what recording its send needs."""

    built: BuiltMessage
    mailbox: str
    enrollment_id: int
    lead_id: int
    sequence: str
    step_index: int
    starts_thread: bool
    zone: str | None


def _claim_and_prepare(runtime: Runtime, touch_id: int, token: str) -> Outcome | Prepared:
    runtime.secret  # noqa: B018  (load before the claim: never open a second transaction inside it)
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        conn = session.connection()
        claimed = conn.execute(_CLAIM, {"tid": touch_id, "now": now, "token": token}).first()
        if claimed is None:
            return Outcome(touch_id, "not_claimed")
        pair = session.execute(
            select(Lead, Enrollment)
            .join(Enrollment, Enrollment.lead_id == Lead.id)
            .where(Enrollment.id == claimed.enrollment_id)
        ).first()
        assert pair is not None
        lead, enrollment = pair[0], pair[1]
        step_index = claimed.step_index
        reason = _why_not(session, lead, enrollment, step_index)
        if reason is not None:
            _finish(session, touch_id, "skipped", now, reason)
            events.record(
                session,
                "skipped",
                at=now,
                lead_id=lead.id,
                touch_id=touch_id,
                sequence=claimed.sequence,
                step_index=step_index,
                cause=reason,
            )
            return Outcome(touch_id, "skipped", reason)
        try:
            spec = runtime.catalog.get(claimed.sequence)
            if step_index >= len(spec.steps):
                raise NotFoundError(f"sequence {spec.name!r} has no step {step_index + 1} any more")
            mailbox_name = claimed.mailbox or spec.mailbox
            mailbox = runtime.mailboxes.get(mailbox_name)
            unsubscribe_url = runtime.unsubscribe_url(lead.id)
            rendered = render_touch(
                runtime.renderer, lead, mailbox, spec, step_index, unsubscribe_url
            )
            same_thread = spec.steps[step_index].same_thread
            built = build_message(
                rendered,
                lead=lead,
                mailbox=mailbox,
                enrollment=enrollment,
                same_thread=same_thread,
                sent_at=now,
                unsubscribe_url=unsubscribe_url,
            )
        except (TemplateRenderError, NotFoundError, OutreachError, ValueError) as exc:
            reason = "template_error" if isinstance(exc, TemplateRenderError) else "config_error"
            _finish(session, touch_id, "failed", now, str(exc))
            events.record(
                session,
                "failed",
                at=now,
                lead_id=lead.id,
                touch_id=touch_id,
                sequence=claimed.sequence,
                step_index=step_index,
                cause=reason,
                error=str(exc),
            )
            flag(
                session,
                lead.id,
                reason,
                at=now,
                touch_id=touch_id,
                detail=str(exc),
                sequence=claimed.sequence,
                step_index=step_index,
            )
            log.warning("touch %r not sent: %s", touch_id, exc)
            return Outcome(touch_id, "failed", str(exc))
        conn.execute(
            _STAMP,
            {"tid": touch_id, "mid": built.message_id, "subj": built.subject, "mbox": mailbox_name},
        )
        return Prepared(
            built=built,
            mailbox=mailbox_name,
            enrollment_id=enrollment.id,
            lead_id=lead.id,
            sequence=claimed.sequence,
            step_index=step_index,
            starts_thread=step_index == 0 or not same_thread or not enrollment.thread_message_id,
            zone=lead.timezone,
        )


def _why_not(session: Session, lead: Lead, enrollment: Enrollment, step_index: int) -> str | None:
    """Why this touch must not go out now, or None when it may."""
    if enrollment.status != "active":
        return f"enrollment {enrollment.status}"
    if lead.status != "active":
        return f"lead {lead.status}"
    if enrollment.current_step != step_index:
        return "step out of date"
    if suppressed_values(session, [lead.email]):
        return "suppressed"
    return None


def _finish(session: Session, touch_id: int, status: str, now: datetime, error: str | None) -> None:
    session.execute(
        update(Touch)
        .where(Touch.id == touch_id)
        .values(status=status, finished_at=now, last_error=error)
    )


def _record_sent(runtime: Runtime, touch_id: int, token: str, prepared: Prepared) -> None:
    """Record a confirmed hand-over and schedule the next step, in one short transaction."""
    now = runtime.clock.now()
    built = prepared.built
    spec = runtime.catalog.get(prepared.sequence)
    next_step = prepared.step_index + 1
    next_wait = (
        spec.steps[next_step].wait if next_step < len(spec.steps) else spec.on_complete.after
    )
    next_due = add_wait(now, next_wait, lead_zone(prepared.zone))
    with runtime.sessions.begin() as session:
        conn = session.connection()
        recorded = conn.execute(_MARK_SENT, {"tid": touch_id, "token": token, "now": now}).first()
        if recorded is None:
            log.error("touch %r was sent but its claim is gone; not recording twice", touch_id)
            return
        values: dict[str, object] = {
            "last_message_id": built.message_id,
            "current_step": next_step,
            "next_due_at": case(
                (_enrollments.c.status == "active", next_due), else_=_enrollments.c.next_due_at
            ),
        }
        if prepared.starts_thread:
            values["thread_message_id"] = built.message_id
            values["thread_subject"] = built.subject
        conn.execute(
            _enrollments.update().where(_enrollments.c.id == prepared.enrollment_id).values(values)
        )
        events.record(
            session,
            "sent",
            at=now,
            lead_id=prepared.lead_id,
            touch_id=touch_id,
            sequence=prepared.sequence,
            step_index=prepared.step_index,
            cause="due",
            message_id=built.message_id,
            subject=built.subject,
            mailbox=prepared.mailbox,
        )


def _release(session: Session, touch_id: int, token: str, **values: object) -> Touch | None:
    touch = session.scalar(select(Touch).where(Touch.id == touch_id, Touch.claim_token == token))
    if touch is None or touch.status != "sending":
        return None
    for key, value in values.items():
        setattr(touch, key, value)
    return touch


def _deferred_or_failed(runtime: Runtime, touch_id: int, token: str, error: str) -> Outcome:
    now = runtime.clock.now()
    settings = runtime.settings
    with runtime.sessions.begin() as session:
        touch = session.get(Touch, touch_id)
        if touch is None:
            return Outcome(touch_id, "error", "touch vanished")
        too_old = now - touch.created_at > timedelta(seconds=settings.retry_max_age_s)
        if touch.attempts >= settings.retry_max_attempts or too_old:
            pass
        else:
            delay = RETRY_BACKOFF_S[min(touch.attempts - 1, len(RETRY_BACKOFF_S) - 1)]
            released = _release(
                session,
                touch_id,
                token,
                status="queued",
                claim_token=None,
                claimed_at=None,
                enqueued_at=None,
                available_at=now + timedelta(seconds=delay),
                last_error=error,
            )
            if released is not None:
                events.record(
                    session,
                    "send_deferred",
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
    return _failed(
        runtime,
        touch_id,
        token,
        f"gave up after {touch.attempts} attempts: {error}",
        "delivery_failed",
    )


def _failed(runtime: Runtime, touch_id: int, token: str, error: str, reason: str) -> Outcome:
    _settle(
        runtime, touch_id, token, "failed", kind="failed", cause=reason, reason=reason, error=error
    )
    log.warning("touch %r failed: %s", touch_id, error)
    return Outcome(touch_id, "failed", error)


def _unknown(runtime: Runtime, touch_id: int, token: str, error: str) -> Outcome:
    _settle(
        runtime,
        touch_id,
        token,
        "unknown",
        kind="delivery_unknown",
        cause="transport",
        reason="delivery_unknown",
        error=error,
    )
    log.warning("touch %r: delivery unknown: %s", touch_id, error)
    return Outcome(touch_id, "unknown", error)


def _settle(
    runtime: Runtime,
    touch_id: int,
    token: str,
    status: str,
    *,
    kind: str,
    cause: str,
    reason: str,
    error: str,
) -> None:
    """End our claim with ``status``, record the event and flag the lead for a rep."""
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        touch = _release(session, touch_id, token, status=status, finished_at=now, last_error=error)
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
