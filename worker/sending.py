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

from sqlalchemy import select, update
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
    built, mailbox = prepared
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
    _record_sent(runtime, touch_id, token, built)
    return Outcome(touch_id, "sent")


def _claim_and_prepare(
    runtime: Runtime, touch_id: int, token: str
) -> Outcome | tuple[BuiltMessage, str]:
    runtime.secret  # noqa: B018  (load before the claim: never open a second transaction inside it)
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        claimed = session.execute(
            update(Touch)
            .where(Touch.id == touch_id, Touch.status == "queued", Touch.available_at <= now)
            .values(status="sending", claimed_at=now, claim_token=token, attempts=Touch.attempts + 1)
            .returning(Touch.id)
        ).first()
        if claimed is None:
            return Outcome(touch_id, "not_claimed")
        touch = session.get(Touch, touch_id)
        assert touch is not None
        enrollment = session.get(Enrollment, touch.enrollment_id)
        lead = session.get(Lead, touch.lead_id)
        assert enrollment is not None and lead is not None
        reason = _why_not(session, lead, enrollment, touch)
        if reason is not None:
            _finish(session, touch, "skipped", now, reason)
            events.record(
                session,
                "skipped",
                at=now,
                lead_id=lead.id,
                touch_id=touch.id,
                sequence=touch.sequence,
                step_index=touch.step_index,
                cause=reason,
            )
            return Outcome(touch_id, "skipped", reason)
        try:
            spec = runtime.catalog.get(touch.sequence)
            if touch.step_index >= len(spec.steps):
                raise NotFoundError(
                    f"sequence {spec.name!r} has no step {touch.step_index + 1} any more"
                )
            mailbox_name = touch.mailbox or spec.mailbox
            mailbox = runtime.mailboxes.get(mailbox_name)
            unsubscribe_url = runtime.unsubscribe_url(lead.id)
            rendered = render_touch(
                runtime.renderer, lead, mailbox, spec, touch.step_index, unsubscribe_url
            )
            built = build_message(
                rendered,
                lead=lead,
                mailbox=mailbox,
                enrollment=enrollment,
                same_thread=spec.steps[touch.step_index].same_thread,
                sent_at=now,
                unsubscribe_url=unsubscribe_url,
            )
        except (TemplateRenderError, NotFoundError, OutreachError, ValueError) as exc:
            reason = "template_error" if isinstance(exc, TemplateRenderError) else "config_error"
            _finish(session, touch, "failed", now, str(exc))
            events.record(
                session,
                "failed",
                at=now,
                lead_id=lead.id,
                touch_id=touch.id,
                sequence=touch.sequence,
                step_index=touch.step_index,
                cause=reason,
                error=str(exc),
            )
            flag(
                session,
                lead.id,
                reason,
                at=now,
                touch_id=touch.id,
                detail=str(exc),
                sequence=touch.sequence,
                step_index=touch.step_index,
            )
            log.warning("touch %r not sent: %s", touch_id, exc)
            return Outcome(touch_id, "failed", str(exc))
        touch.message_id = built.message_id
        touch.subject = built.subject
        touch.mailbox = mailbox_name
    return built, mailbox_name


def _why_not(session: Session, lead: Lead, enrollment: Enrollment, touch: Touch) -> str | None:
    """Why this touch must not go out now, or None when it may."""
    if enrollment.status != "active":
        return f"enrollment {enrollment.status}"
    if lead.status != "active":
        return f"lead {lead.status}"
    if enrollment.current_step != touch.step_index:
        return "step out of date"
    if suppressed_values(session, [lead.email]):
        return "suppressed"
    return None


def _finish(session: Session, touch: Touch, status: str, now: datetime, error: str | None) -> None:
    touch.status = status
    touch.finished_at = now
    touch.last_error = error


def _record_sent(runtime: Runtime, touch_id: int, token: str, built: BuiltMessage) -> None:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        touch = session.scalar(
            select(Touch).where(Touch.id == touch_id, Touch.claim_token == token)
        )
        if touch is None:
            log.error("touch %r was sent but its claim is gone; not recording twice", touch_id)
            return
        touch.status = "sent"
        touch.finished_at = now
        touch.last_error = None
        enrollment = session.get(Enrollment, touch.enrollment_id)
        lead = session.get(Lead, touch.lead_id)
        assert enrollment is not None and lead is not None
        spec = runtime.catalog.get(touch.sequence)
        step = spec.steps[touch.step_index]
        if touch.step_index == 0 or not step.same_thread or not enrollment.thread_message_id:
            enrollment.thread_message_id = built.message_id
            enrollment.thread_subject = built.subject
        enrollment.last_message_id = built.message_id
        enrollment.current_step = touch.step_index + 1
        zone = lead_zone(lead.timezone)
        if enrollment.current_step < len(spec.steps):
            next_wait = spec.steps[enrollment.current_step].wait
        else:
            next_wait = spec.on_complete.after
        if enrollment.status == "active":
            enrollment.next_due_at = add_wait(now, next_wait, zone)
        events.record(
            session,
            "sent",
            at=now,
            lead_id=lead.id,
            touch_id=touch.id,
            sequence=touch.sequence,
            step_index=touch.step_index,
            cause="due",
            message_id=built.message_id,
            subject=built.subject,
            mailbox=touch.mailbox,
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
        runtime, touch_id, token, f"gave up after {touch.attempts} attempts: {error}", "delivery_failed"
    )


def _failed(runtime: Runtime, touch_id: int, token: str, error: str, reason: str) -> Outcome:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        touch = _release(session, touch_id, token, status="failed", finished_at=now, last_error=error)
        if touch is not None:
            events.record(
                session,
                "failed",
                at=now,
                lead_id=touch.lead_id,
                touch_id=touch_id,
                sequence=touch.sequence,
                step_index=touch.step_index,
                cause=reason,
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
    log.warning("touch %r failed: %s", touch_id, error)
    return Outcome(touch_id, "failed", error)


def _unknown(runtime: Runtime, touch_id: int, token: str, error: str) -> Outcome:
    now = runtime.clock.now()
    with runtime.sessions.begin() as session:
        touch = _release(session, touch_id, token, status="unknown", finished_at=now, last_error=error)
        if touch is not None:
            events.record(
                session,
                "delivery_unknown",
                at=now,
                lead_id=touch.lead_id,
                touch_id=touch_id,
                sequence=touch.sequence,
                step_index=touch.step_index,
                cause="transport",
                error=error,
            )
            flag(
                session,
                touch.lead_id,
                "delivery_unknown",
                at=now,
                touch_id=touch_id,
                detail=error,
                sequence=touch.sequence,
                step_index=touch.step_index,
            )
    log.warning("touch %r: delivery unknown: %s", touch_id, error)
    return Outcome(touch_id, "unknown", error)
