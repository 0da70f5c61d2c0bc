"""Claim a chunk of touches atomically, re-check each at send time, and render it.

The claim is one conditional UPDATE (``queued`` → ``claimed``) over the chunk, so a duplicated
or redelivered queue message, or two overlapping runs, can claim each touch only once.
Everything that could make an email wrong is checked inside the same transaction. Just before
its hand-over each touch moves ``claimed`` → ``sending`` on its own (``delivery.hand_over``),
and the same commit moves the touch sent just before it to ``delivered``: a crash then leaves
only the touch in flight in doubt (one per sending thread); the rest of the chunk is requeued
as soon as the claimer is known dead (``worker.operations.heartbeats``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select

from worker.delivery.hand_over import (
    LEAD_ACTIVE,
    NOT_SUPPRESSED,
    OURS,
    hand_over_marks,
    lead_params,
)
from worker.delivery.rendering import build_message, render_touch
from worker.delivery.variants import resolve_variant
from worker.errors import NotFoundError, OutreachError, TemplateRenderError
from worker.leads.addresses import suppressed_values
from worker.leads.flags import flag
from worker.operations.heartbeats import current_holder
from worker.runtime import Runtime
from worker.store import events
from worker.store.models import Enrollment, Lead, Touch
from worker.tracking.links import Tracking, track_email
from worker.transports.message import BuiltMessage
from worker.vocabulary import EnrollmentStatus, EventKind, LeadStatus, ReviewReason, TouchStatus

log = logging.getLogger(__name__)

_touches: Table = Touch.__table__  # type: ignore[assignment]
_CLAIM = (
    _touches.update()
    .where(
        _touches.c.id.in_(bindparam("ids", expanding=True)),
        _touches.c.status == TouchStatus.QUEUED,
        _touches.c.available_at <= bindparam("now"),
    )
    .values(
        status=TouchStatus.CLAIMED,
        claimed_at=bindparam("now"),
        claim_token=bindparam("token"),
        holder=bindparam("holder"),
        attempts=_touches.c.attempts + 1,
    )
    .returning(
        _touches.c.id,
        _touches.c.enrollment_id,
        _touches.c.sequence,
        _touches.c.step_index,
        _touches.c.mailbox,
        _touches.c.variant,
        _touches.c.version,
    )
)
_LEADS_AND_ENROLLMENTS = (
    select(Lead, Enrollment)
    .join(Enrollment, Enrollment.lead_id == Lead.id)
    .where(Enrollment.id.in_(bindparam("eids", expanding=True)))
)
_FINISH = (
    _touches.update()
    .where(_touches.c.id == bindparam("tid"))
    .values(status=bindparam("st"), finished_at=bindparam("now"), last_error=bindparam("err"))
)

_enrollments: Table = Enrollment.__table__  # type: ignore[assignment]
_SKIP_CLAIMED = (
    _touches.update()
    .where(*OURS)
    .values(status=TouchStatus.SKIPPED, finished_at=bindparam("now"), last_error=bindparam("err"))
    .returning(_touches.c.id)
)
# Run after a skip, in its transaction: when whatever stopped the touch is gone again (the
# lead was resumed while the skip was being decided, so ``lifecycle.resume`` still saw the
# touch outstanding and left the step undue), make the step due again. The tick then revives
# the skipped touch (the same row: never a second email). Same conditions as ``_MARK_SENDING``,
# so a lead still paused or suppressed is not rescheduled over and over.
_REDUE_SKIPPED = (
    _enrollments.update()
    .where(
        _enrollments.c.id == bindparam("eid"),
        _enrollments.c.status == EnrollmentStatus.ACTIVE,
        _enrollments.c.current_step == bindparam("step"),
        _enrollments.c.next_due_at.is_(None),
        LEAD_ACTIVE,
        NOT_SUPPRESSED,
    )
    .values(next_due_at=bindparam("now"))
)
_RELEASE_UNSENT = (
    _touches.update()
    .where(
        _touches.c.id.in_(bindparam("ids", expanding=True)),
        _touches.c.claim_token == bindparam("token"),
        _touches.c.status == TouchStatus.CLAIMED,
    )
    .values(
        status=TouchStatus.QUEUED, claim_token=None, claimed_at=None, enqueued_at=None, holder=None
    )
)


@dataclass(frozen=True)
class Outcome:
    """What happened to one touch: sent, skipped, failed, deferred, unknown or not_claimed."""

    touch_id: int
    result: str
    detail: str = ""


@dataclass(frozen=True)
class Prepared:
    """A claimed, checked and rendered touch, with what recording its send needs."""

    touch_id: int
    built: BuiltMessage
    mailbox: str
    enrollment_id: int
    lead_id: int
    sequence: str
    step_index: int
    starts_thread: bool
    zone: str | None
    country: str | None = None
    variant: str | None = None
    version: str | None = None  # the sequence version it was rendered from


@dataclass
class _Checked:
    """What the check-and-render step decided, to be written in one transaction."""

    finished: list[dict[str, Any]] = field(default_factory=list)
    redue: list[dict[str, Any]] = field(default_factory=list)
    logged: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)


def claim_and_prepare(
    runtime: Runtime, touch_ids: list[int], token: str
) -> tuple[list[Prepared], list[Outcome]]:
    """Claim ``touch_ids``; return the ones ready to send and the outcomes of the others.

    Three short steps, so no write lock is held while templates render: claim and read (one
    transaction), check and render (none), then record skips and failures (one). What a
    touch was rendered as is stamped with its move to ``sending`` (``delivery.hand_over``).
    """
    runtime.secret  # noqa: B018  (load before the claim: never open a second transaction inside it)
    now = runtime.clock.now()
    outcomes: list[Outcome] = []
    with runtime.sessions.begin() as session:
        conn = session.connection()
        claimed = {
            row.id: row
            for row in conn.execute(
                _CLAIM,
                {"ids": list(touch_ids), "now": now, "token": token, "holder": current_holder()},
            )
        }
        outcomes.extend(Outcome(tid, "not_claimed") for tid in touch_ids if tid not in claimed)
        if not claimed:
            return [], outcomes
        eids = sorted({row.enrollment_id for row in claimed.values()})
        pairs = {
            enrollment.id: (lead, enrollment)
            for lead, enrollment in session.execute(_LEADS_AND_ENROLLMENTS, {"eids": eids})
        }
        blocked = suppressed_values(session, [lead.email for lead, _ in pairs.values()])
        session.expunge_all()
    checked = _Checked()
    prepared = [
        item
        for tid in touch_ids
        if tid in claimed
        and (
            item := _check_and_render(runtime, claimed[tid], pairs, blocked, now, checked, outcomes)
        )
    ]
    if not (checked.finished or checked.logged or checked.flags):
        return prepared, outcomes
    with runtime.sessions.begin() as session:
        conn = session.connection()
        if checked.finished:
            conn.execute(_FINISH, checked.finished)
        if checked.redue:
            conn.execute(_REDUE_SKIPPED, checked.redue)
        events.record_many(session, checked.logged)
        for raised in checked.flags:
            flag(session, at=now, **raised)
    return prepared, outcomes


def _check_and_render(
    runtime: Runtime,
    row: Any,
    pairs: dict[int, tuple[Lead, Enrollment]],
    blocked: set[str],
    now: datetime,
    checked: _Checked,
    outcomes: list[Outcome],
) -> Prepared | None:
    tid = row.id
    lead, enrollment = pairs[row.enrollment_id]
    base = {
        "at": now,
        "lead_id": lead.id,
        "touch_id": tid,
        "sequence": row.sequence,
        "step_index": row.step_index,
    }
    reason = why_not(lead, enrollment, row.step_index, blocked) or version_changed(
        enrollment, row.version
    )
    if reason is not None:
        checked.finished.append({"tid": tid, "st": TouchStatus.SKIPPED, "now": now, "err": reason})
        params = lead_params(row.enrollment_id, row.step_index, lead.id, lead.email)
        checked.redue.append({**params, "now": now})
        checked.logged.append({**base, "kind": EventKind.SKIPPED, "cause": reason})
        outcomes.append(Outcome(tid, "skipped", reason))
        return None
    try:
        item = _prepare(runtime, tid, row, lead, enrollment, now)
    except (OutreachError, ValueError) as exc:
        cause = (
            ReviewReason.TEMPLATE_ERROR
            if isinstance(exc, TemplateRenderError)
            else ReviewReason.CONFIG_ERROR
        )
        error = str(exc)
        checked.finished.append({"tid": tid, "st": TouchStatus.FAILED, "now": now, "err": error})
        checked.logged.append(
            {**base, "kind": EventKind.FAILED, "cause": cause, "detail": {"error": error}}
        )
        checked.flags.append(
            {
                "lead_id": lead.id,
                "reason": cause,
                "touch_id": tid,
                "detail": error,
                "sequence": row.sequence,
                "step_index": row.step_index,
            }
        )
        log.warning("touch %r not sent: %s", tid, exc)
        outcomes.append(Outcome(tid, "failed", error))
        return None
    return item


def _prepare(
    runtime: Runtime, tid: int, row: Any, lead: Lead, enrollment: Enrollment, now: Any
) -> Prepared:
    spec = runtime.versions.spec(row.sequence, row.version)  # the version it belongs to
    renderer = runtime.versions.renderer(row.sequence, row.version)
    step_index = row.step_index
    if step_index >= len(spec.steps):
        raise NotFoundError(f"sequence {spec.name!r} has no step {step_index + 1} any more")
    mailbox_name = row.mailbox or spec.mailbox
    mailbox = runtime.mailboxes.get(mailbox_name)
    unsubscribe_url = runtime.unsubscribe_url(lead.id)
    chosen = resolve_variant(spec.steps[step_index], lead.email, spec.name, step_index, row.variant)
    variant = chosen.name if chosen is not None else None
    rendered = render_touch(renderer, lead, mailbox, spec, step_index, unsubscribe_url, variant)
    as_written = rendered.text
    tracked = spec.track_clicks or spec.track_opens  # off: not one step more than before
    if tracked:
        rendered = track_email(
            rendered,
            Tracking(
                secret=runtime.secret,
                public_url=runtime.settings.public_url,
                touch_id=tid,
                unsubscribe_url=unsubscribe_url,
                clicks=spec.track_clicks,
                opens=spec.track_opens,
            ),
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
    if tracked:
        # The timeline keeps the links as written: a rep reading it never clicks as the lead.
        built = replace(built, text=as_written)
    return Prepared(
        touch_id=tid,
        built=built,
        mailbox=mailbox_name,
        enrollment_id=enrollment.id,
        lead_id=lead.id,
        sequence=row.sequence,
        step_index=step_index,
        starts_thread=step_index == 0 or not same_thread or not enrollment.thread_message_id,
        zone=lead.timezone,
        country=lead.country,
        variant=variant,
        version=row.version,
    )


def mark_sending(runtime: Runtime, item: Prepared, token: str, confirm: int | None = None) -> bool:
    """Move one claimed touch to ``sending`` right before its hand-over; False if not ours.

    ``confirm``: the touch this thread handed over just before, accepted by the server; it
    becomes ``delivered`` in the same commit. A sending loop keeps one ``hand_over_marks``
    for its chunk instead.
    """
    with hand_over_marks(runtime, token) as marks:
        return marks.sending(item.touch_id, sending_params(item), confirm)


def recheck_params(item: Prepared) -> dict[str, Any]:
    """What the move to ``sending`` and a skip's re-due check the touch's lead and step with."""
    return lead_params(item.enrollment_id, item.step_index, item.lead_id, item.built.recipient)


def sending_params(item: Prepared) -> dict[str, Any]:
    """The re-check of the move to ``sending``, and what it stamps on the touch: the message
    as rendered (id, subject, text), its mailbox and A/B variant."""
    return {
        **recheck_params(item),
        "mid": item.built.message_id,
        "subj": item.built.subject,
        "mbox": item.mailbox,
        "var": item.variant,
        "body": item.built.text,
    }


def skip_claimed(runtime: Runtime, item: Prepared, token: str, reason: str) -> Outcome:
    """Settle a claimed touch as skipped (its lead or enrollment changed since the claim)."""
    now = runtime.clock.now()
    params = {"tid": item.touch_id, "token": token, "now": now, "err": reason}
    redue = {**recheck_params(item), "now": now}
    return _settle_claimed(
        runtime, item, _SKIP_CLAIMED, params, EventKind.SKIPPED, reason, redue=redue
    )


def _settle_claimed(
    runtime: Runtime,
    item: Prepared,
    statement: Any,
    params: dict[str, Any],
    kind: EventKind,
    reason: str,
    redue: dict[str, Any] | None = None,
    **detail: Any,
) -> Outcome:
    """Run a claimed-touch update and, when it was still ours, record the event (and, for a
    skip, make the step due again when its lead is back: ``redue``)."""
    with runtime.sessions.begin() as session:
        conn = session.connection()
        if conn.execute(statement, params).first() is None:
            return Outcome(item.touch_id, "not_claimed")
        if redue is not None:
            conn.execute(_REDUE_SKIPPED, redue)
        events.record(
            session,
            kind,
            at=runtime.clock.now(),
            lead_id=item.lead_id,
            touch_id=item.touch_id,
            sequence=item.sequence,
            step_index=item.step_index,
            cause=reason,
            **detail,
        )
    return Outcome(item.touch_id, kind.value, reason)


_POSTPONE_CLAIMED = (
    _touches.update()
    .where(*OURS)
    .values(
        status=TouchStatus.QUEUED,
        claim_token=None,
        claimed_at=None,
        enqueued_at=None,
        available_at=bindparam("until"),
        holder=None,
        attempts=_touches.c.attempts - 1,  # a postponement is not a delivery attempt
        last_error=bindparam("err"),
    )
    .returning(_touches.c.id)
)


def postpone_claimed(
    runtime: Runtime, item: Prepared, token: str, until: datetime, reason: str
) -> Outcome:
    """Give a claimed touch back to the queue, not to be sent before ``until``."""
    params = {"tid": item.touch_id, "token": token, "until": until, "err": reason}
    return _settle_claimed(
        runtime,
        item,
        _POSTPONE_CLAIMED,
        params,
        EventKind.POSTPONED,
        reason,
        until=until.isoformat(),
    )


def release_unsent(runtime: Runtime, touch_ids: list[int], token: str) -> None:
    """Give back claimed touches that were never handed over (they are queued again)."""
    if touch_ids:
        with runtime.sessions.begin() as session:
            session.connection().execute(_RELEASE_UNSENT, {"ids": touch_ids, "token": token})


def version_changed(enrollment: Enrollment, version: str | None) -> str | None:
    """Why a touch of sequence version ``version`` must not go out: its enrollment runs
    another version now (a change was applied since the touch was scheduled)."""
    if version is not None and enrollment.version is not None and version != enrollment.version:
        return "the sequence changed since the touch was scheduled"
    return None


def why_not(lead: Lead, enrollment: Enrollment, step_index: int, blocked: set[str]) -> str | None:
    """Why this touch must not go out now, or None when it may."""
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return f"enrollment {enrollment.status}"
    if lead.status != LeadStatus.ACTIVE:
        return f"lead {lead.status}"
    if enrollment.current_step != step_index:
        return "step out of date"
    if lead.email in blocked:
        return "suppressed"
    return None


__all__ = [
    "Outcome",
    "Prepared",
    "claim_and_prepare",
    "mark_sending",
    "postpone_claimed",
    "recheck_params",
    "release_unsent",
    "sending_params",
    "skip_claimed",
    "version_changed",
    "why_not",
]
