"""What a rep does to one lead: pause, resume, stop, enroll in another sequence, change its
stage, and (``worker.working.lead_records``) notes, calls, field edits and its owner.

One service for the web app, the command line and the JSON API. Each function changes the
lead in the caller's session (the caller commits), records an event whose cause is
``rep: NAME``, and returns an ``Outcome``; a request that cannot apply raises ``FieldError``
(one bad value), ``RefusedError`` (the lead's state forbids it; ``why`` is short, for bulk
counts) or ``NotFoundError``. Sequences move through ``worker.leads.lifecycle``, the same
moves the review queue's resolutions and sales acceptance make.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.sequences import Catalog
from worker.clock import as_utc
from worker.errors import FieldError, RefusedError, did_you_mean
from worker.leads import lifecycle
from worker.leads.addresses import suppressed_values
from worker.leads.enrollment import BLOCKING_LEAD_STATUSES
from worker.leads.stages import change_stage as move_stage
from worker.store.models import Enrollment, Lead
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, EnrollmentStatus, LeadStatus
from worker.working.lead_records import add_note, log_call, set_owner, update_fields
from worker.working.outcomes import Outcome, cause_of, find_lead, outcome

STAGES: tuple[str, ...] = tuple(stage.value for stage in (*PIPELINE_STAGES, *FINAL_STAGES))
MAX_REASON = 500
# A rep's decision puts a lead in these states back to work in its new sequence.
REACTIVATED = (
    LeadStatus.ACTIVE,
    LeadStatus.PAUSED,
    LeadStatus.NEEDS_REVIEW,
    LeadStatus.COMPLETED,
    LeadStatus.STOPPED,
)


def pause(
    session: Session,
    lead: Lead,
    *,
    at: datetime,
    by: str | None,
    until: datetime | None = None,
) -> Outcome:
    """Pause the lead's sequences (until ``until``, when given: then they resume by
    themselves); a touch already queued is skipped at send time."""
    if until is not None:
        until = as_utc(until)
        if until <= at:
            raise FieldError(
                "until",
                f"{until:%Y-%m-%d %H:%M} UTC is not in the future — pick a later date, or "
                "none to pause until someone resumes the lead.",
            )
    enrollments = lifecycle.open_enrollments(session, lead.id)
    return pause_enrolled(session, lead, enrollments, at=at, by=by, until=until)


def pause_enrolled(
    session: Session,
    lead: Lead,
    enrollments: list[Enrollment],
    *,
    at: datetime,
    by: str | None,
    until: datetime | None,
    tasks: lifecycle.OpenTasks | None = None,
) -> Outcome:
    """``pause`` for a lead whose open enrollments (and their open ``tasks``) the caller
    read already (a bulk action reads those of many leads at once) and whose ``until`` it
    checked."""
    if not enrollments:
        raise RefusedError(
            f"{lead.email} is in no sequence ({lead.status}) — there is nothing to pause.",
            "in no sequence",
        )
    if all(e.status == EnrollmentStatus.PAUSED and e.resume_at == until for e in enrollments) and (
        lead.status == LeadStatus.PAUSED
    ):
        return outcome(lead, False, f"{lead.email} is paused already.")
    lifecycle.pause(session, enrollments, at=at, cause=cause_of(by), resume_at=until, tasks=tasks)
    lead.status = LeadStatus.PAUSED
    lead.updated_at = at
    names = ", ".join(e.sequence for e in enrollments)
    when = f" until {until:%Y-%m-%d %H:%M} UTC" if until else ""
    return outcome(lead, True, f"{lead.email} paused{when} ({names}).")


def resume(session: Session, lead: Lead, *, at: datetime, by: str | None) -> Outcome:
    """Resume the lead's paused sequences at the step they were at."""
    paused = [
        e
        for e in lifecycle.open_enrollments(session, lead.id)
        if e.status == EnrollmentStatus.PAUSED
    ]
    if not paused:
        return outcome(lead, False, f"{lead.email} is not paused ({lead.status}).")
    lifecycle.resume(session, paused, at=at, cause=cause_of(by))
    if lead.status not in BLOCKING_LEAD_STATUSES:
        lead.status = LeadStatus.ACTIVE
    lead.updated_at = at
    names = ", ".join(e.sequence for e in paused)
    return outcome(lead, True, f"{lead.email} resumed ({names}).")


def stop(
    session: Session,
    lead: Lead,
    *,
    at: datetime,
    by: str | None,
    reason: str | None = None,
) -> Outcome:
    """Stop the lead's sequences for good (its stage stays; enroll it again to go on)."""
    reason = _reason(reason)
    enrollments = lifecycle.open_enrollments(session, lead.id)
    if not enrollments:
        return outcome(lead, False, f"{lead.email} is in no sequence ({lead.status}).")
    said: dict[str, Any] = {"reason": reason} if reason else {}
    lifecycle.stop(session, enrollments, at=at, cause=cause_of(by), **said)
    if lead.status not in BLOCKING_LEAD_STATUSES:
        lead.status = LeadStatus.STOPPED
    lead.updated_at = at
    names = ", ".join(e.sequence for e in enrollments)
    return outcome(lead, True, f"{lead.email} stopped ({names}).")


def enroll(
    session: Session,
    catalog: Catalog,
    lead: Lead,
    sequence: str,
    *,
    at: datetime,
    by: str | None,
) -> Outcome:
    """Enroll the lead in ``sequence``, stopping the sequence it is in. Refused for an
    address that is unsubscribed, bounced or suppressed, for a lead that is won or lost,
    and for a sequence the lead went through before."""
    spec = catalog.get(sequence.strip())  # NotFoundError with "did you mean"
    open_now = lifecycle.open_enrollments(session, lead.id)
    before = session.scalar(
        select(Enrollment.status).where(
            Enrollment.lead_id == lead.id, Enrollment.sequence == spec.name
        )
    )
    suppressed = bool(suppressed_values(session, [lead.email]))
    already = check_enrollable(lead, spec.name, open_now, before, suppressed=suppressed)
    if already is not None:
        return already
    lifecycle.move_to_sequence(
        session,
        lead,
        spec,
        at=at,
        cause=cause_of(by),
        schedules=catalog.schedules,
        reactivate=REACTIVATED,
    )
    left = ", ".join(e.sequence for e in open_now)
    moved = f" (stopped {left})" if left else ""
    return outcome(lead, True, f"{lead.email} enrolled in {spec.name!r}{moved}.")


def check_enrollable(
    lead: Lead,
    sequence: str,
    open_now: list[Enrollment],
    before: str | None,
    *,
    suppressed: bool,
) -> Outcome | None:
    """None when the lead may be enrolled in ``sequence``; an unchanged outcome when it is
    in it now; RefusedError when it may not be (``before``: the status of its enrollment in
    ``sequence``, if it ever had one; ``suppressed``: its address is on the list)."""
    if lead.status in BLOCKING_LEAD_STATUSES or suppressed:
        refuse_unmailable(lead, "enrolled", suppressed=suppressed)
    if lead.stage in FINAL_STAGES:
        raise RefusedError(
            f"{lead.email} is {lead.stage} — change its stage first, then enroll it.",
            f"stage {lead.stage}",
        )
    if any(e.sequence == sequence for e in open_now):
        return outcome(lead, False, f"{lead.email} is in {sequence!r} already.")
    if before is not None:
        raise RefusedError(
            f"{lead.email} went through {sequence!r} before ({before}); a lead goes through "
            "a sequence once — pick another sequence.",
            "in this sequence before",
        )
    return None


def change_stage(
    session: Session,
    catalog: Catalog,
    lead: Lead,
    stage: str,
    *,
    reason: str | None,
    at: datetime,
    by: str | None,
) -> Outcome:
    """Move the lead to ``stage``. ``won`` and ``lost`` need a reason and stop its
    sequences; a pipeline stage moves it into that stage's sequence (when it has one and the
    address may be mailed), stopping the one it was in."""
    stage = stage.strip().lower()
    reason = _reason(reason)
    if stage not in STAGES:
        raise FieldError(
            "stage",
            f"No stage {stage!r}{did_you_mean(stage, set(STAGES))} (stages: {', '.join(STAGES)}).",
        )
    if stage in FINAL_STAGES and not reason:
        raise FieldError("reason", f"Say why the lead is {stage} — a reason is required.")
    if lead.stage == stage:
        return outcome(lead, False, f"{lead.email} is in stage {stage} already.")
    previous, cause = lead.stage, cause_of(by)
    if stage in FINAL_STAGES:
        lifecycle.stop(session, lifecycle.open_enrollments(session, lead.id), at=at, cause=cause)
        if lead.status not in BLOCKING_LEAD_STATUSES:
            lead.status = LeadStatus.STOPPED
        move_stage(session, lead, stage, at=at, cause=cause, reason=reason)
        return outcome(lead, True, f"{lead.email}: {previous} → {stage} ({reason}).")
    move_stage(session, lead, stage, at=at, cause=cause, reason=reason)
    target = catalog.for_stage(stage)
    lifecycle.move_to_sequence(
        session,
        lead,
        target,
        at=at,
        cause=cause,
        schedules=catalog.schedules,
        reactivate=REACTIVATED,
    )
    lead.updated_at = at
    now_in = [e.sequence for e in lifecycle.open_enrollments(session, lead.id)]
    if target is None:
        where = "no sequence for this stage"
    elif target.name in now_in:
        where = f"now in {target.name!r}"
    else:
        where = f"not enrolled in {target.name!r} ({_why_not(session, lead, target.name)})"
    return outcome(lead, True, f"{lead.email}: {previous} → {stage}; {where}.")


def refuse_unmailable(lead: Lead, what: str, *, suppressed: bool) -> None:
    """RefusedError when the lead's address may never be mailed again (unsubscribed,
    bounced, or ``suppressed``: on the suppression list)."""
    if lead.status in BLOCKING_LEAD_STATUSES:
        raise RefusedError(
            f"{lead.email} is {lead.status} and is never mailed again — it cannot be {what}.",
            str(lead.status),
        )
    if suppressed:
        raise RefusedError(
            f"{lead.email} is on the suppression list and is never mailed — it cannot be "
            f"{what} (see 'outreach suppressions list').",
            "suppressed",
        )


def _why_not(session: Session, lead: Lead, sequence: str) -> str:
    if lead.status in BLOCKING_LEAD_STATUSES:
        return str(lead.status)
    if suppressed_values(session, [lead.email]):
        return "suppressed"
    return "it went through that sequence before"


def _reason(reason: str | None) -> str | None:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise FieldError("reason", f"The reason is longer than {MAX_REASON} characters.")
    return text or None


__all__ = [
    "REACTIVATED",
    "STAGES",
    "Outcome",
    "add_note",
    "change_stage",
    "check_enrollable",
    "enroll",
    "find_lead",
    "log_call",
    "pause",
    "pause_enrolled",
    "refuse_unmailable",
    "resume",
    "set_owner",
    "stop",
    "update_fields",
]
