"""Act on a classified reply: stop the sequence at once, then apply the ``on_reply`` rules.

A person's reply pauses every open sequence of the lead before anything else, so a touch
already queued is skipped when it comes up for sending. Then the rules of the sequence the
reply belongs to (or the defaults) decide: advance, flag, pause, stop, lost, won, suppress,
bounce, retry a soft-bounced touch, wait for an out-of-office return date, or continue.
A classification below the confidence threshold is always flagged for a rep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.authoring.reply_rules import ENROLL_PREFIX, rules_for
from worker.authoring.schema import SequenceSpec
from worker.authoring.sequences import Catalog
from worker.inbound.batch import Batch
from worker.leads import lifecycle
from worker.leads.colleagues import colleagues
from worker.leads.enrollment import OPEN_ENROLLMENT_STATUSES, enroll_leads
from worker.leads.flags import HOT, OpenItems, flag
from worker.leads.lifecycle import OpenTasks
from worker.leads.stages import change_stage, next_stage
from worker.qualification import open_acceptance
from worker.qualification.acceptance import wants_acceptance
from worker.settings import Settings
from worker.store import events
from worker.store.marks import mark
from worker.store.models import Enrollment, Event, InboundMessage, Lead, Touch
from worker.timing.waits import lead_zone
from worker.understanding import HUMAN_INTENTS, Classification
from worker.understanding.bounces import is_delay_notice
from worker.vocabulary import (
    EnrollmentStatus,
    EventKind,
    LeadStatus,
    ReviewAction,
    ReviewReason,
    Stage,
    TouchStatus,
)

log = logging.getLogger(__name__)

RESUME_LOCAL_TIME = time(9, 0)


@dataclass(frozen=True)
class ReplyPolicy:
    """The thresholds of reply handling (from Settings)."""

    min_confidence: float = 0.6
    ooo_fallback_days: int = 7
    later_fallback_days: int = 90
    data_request_deadline_days: int = 30
    soft_bounce_limit: int = 3
    soft_bounce_retry_s: int = 4 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplyPolicy:
        return cls(
            min_confidence=settings.min_confidence,
            ooo_fallback_days=settings.ooo_fallback_days,
            later_fallback_days=settings.later_fallback_days,
            data_request_deadline_days=settings.data_request_deadline_days,
            soft_bounce_limit=settings.soft_bounce_limit,
            soft_bounce_retry_s=settings.soft_bounce_retry_s,
        )


@dataclass(frozen=True)
class Outcome:
    """What was done about one reply."""

    intent: str
    actions: tuple[str, ...]
    low_confidence: bool


@dataclass
class _Reply:
    session: Session
    catalog: Catalog
    policy: ReplyPolicy
    lead: Lead
    inbound: InboundMessage
    found: Classification
    touch: Touch | None
    spec: SequenceSpec | None
    at: datetime
    low_confidence: bool
    batch: Batch | None = None

    @property
    def cause(self) -> str:
        return f"reply: {self.found.intent}"

    @property
    def tasks(self) -> OpenTasks | None:
        """The open tasks of the batch's enrollments (None: read per enrollment)."""
        return self.batch.tasks if self.batch is not None else None

    @property
    def items(self) -> OpenItems | None:
        """The open review items of the batch's leads (None: read per flag)."""
        return self.batch.items if self.batch is not None else None

    def open_enrollments(self, lead_id: int | None = None) -> list[Enrollment]:
        """The open enrollments of the lead (or of ``lead_id``): from the batch when it holds
        every enrollment of theirs (their states are the session's own objects), else read."""
        lead_id = self.lead.id if lead_id is None else lead_id
        known = self.batch.enrollments.get(lead_id) if self.batch is not None else None
        if known is None:
            return lifecycle.open_enrollments(self.session, lead_id)
        return [e for e in known if e.status in OPEN_ENROLLMENT_STATUSES]

    def enrolled(self) -> None:
        """The lead has new enrollments: read them from the database from now on."""
        if self.batch is not None:
            self.batch.enrollments.pop(self.lead.id, None)


def act_on_reply(
    session: Session,
    catalog: Catalog,
    policy: ReplyPolicy,
    inbound: InboundMessage,
    found: Classification,
    *,
    at: datetime,
    batch: Batch | None = None,
) -> Outcome:
    """Record the classification of a matched message and apply the rules.

    ``batch``: what a batch of messages read at once (``Batch.load``), its objects in
    ``session``; acting on the reply then asks the database almost nothing, and its changes
    are written when the session flushes (new enrollments drop their lead from it).
    """
    assert inbound.lead_id is not None
    lead = session.get(Lead, inbound.lead_id)
    assert lead is not None
    touch = session.get(Touch, inbound.touch_id) if inbound.touch_id is not None else None
    known = batch.enrollments.get(lead.id) if batch is not None else None
    spec = _sequence_of(session, catalog, lead, touch, known)
    low = found.confidence < policy.min_confidence
    actions = ("flag",) if low else rules_for(spec.on_reply.rules() if spec else None)[found.intent]
    events.record(
        session,
        EventKind.CLASSIFIED,
        at=at,
        lead_id=lead.id,
        touch_id=touch.id if touch else None,
        sequence=spec.name if spec else None,
        step_index=touch.step_index if touch else None,
        cause=found.intent,
        confidence=round(found.confidence, 2),
        return_date=found.return_date.isoformat() if found.return_date else None,
        referral_email=found.referral_email,
        inbound_id=inbound.id,
        low_confidence=low,
        actions=list(actions),
    )
    mark(session, [lead.id], at)  # a reply's intent may score (``worker.scoring``)
    if batch is not None and found.intent == "bounce_soft":
        batch.soft_bounce(lead.id)
    reply = _Reply(session, catalog, policy, lead, inbound, found, touch, spec, at, low, batch)
    # A person's reply pauses every open sequence at once, in this transaction; ``defer``
    # pauses them itself (with the day to resume), so the timeline shows one pause, not two.
    if (found.intent in HUMAN_INTENTS or low) and "defer" not in actions:
        _pause(reply, reply.cause)
    for action in actions:
        handler = _HANDLERS.get(action)
        if handler is not None:
            handler(reply)
        elif action.startswith(ENROLL_PREFIX):
            _enroll(reply, catalog.get(action[len(ENROLL_PREFIX) :]))
    if _asks_for_acceptance(reply) and not {"flag", "flag_hot"} & set(actions):
        # The rule did what it says (advance, enroll…); a rep still answers "Accept as SQL?".
        _open_acceptance(reply, needs_review=False)
    if spec is not None and not low:
        _tell_colleagues(reply, spec.on_company_reply.rules().get(found.intent, ()))
    return Outcome(found.intent, actions, low)


def _asks_for_acceptance(reply: _Reply) -> bool:
    """A confident positive reply from a lead with a score (scoring is in use for it) that is
    not an SQL yet: sales is asked to accept it (``worker.qualification``). Leads never
    scored keep the plain hot-lead flag."""
    lead = reply.lead
    return (
        reply.found.intent == "positive"
        and not reply.low_confidence
        and (lead.score is not None or lead.qualification is not None)
        and wants_acceptance(lead, reply.cause)
    )


def _open_acceptance(reply: _Reply, *, needs_review: bool, advice: str | None = None) -> None:
    open_acceptance(
        reply.session,
        reply.lead,
        reply.at,
        reply.cause,
        detail=advice,
        priority=HOT,
        touch_id=reply.touch.id if reply.touch else None,
        inbound_id=reply.inbound.id,
        needs_review=needs_review,
    )


def _tell_colleagues(reply: _Reply, actions: tuple[str, ...]) -> None:
    """Apply a sequence's ``on_company_reply`` rule to the other leads of the company."""
    if not actions or reply.spec is None:
        return
    match = reply.spec.on_company_reply.match
    cause = f"colleague {reply.lead.email} replied: {reply.found.intent}"
    for colleague in colleagues(reply.session, reply.lead, match):
        enrollments = reply.open_enrollments(colleague.id)
        if "stop" in actions:
            lifecycle.stop(reply.session, enrollments, at=reply.at, cause=cause, tasks=reply.tasks)
            if colleague.status in (LeadStatus.ACTIVE, LeadStatus.PAUSED):
                colleague.status = LeadStatus.STOPPED
        elif "pause" in actions or "flag" in actions:
            lifecycle.pause(reply.session, enrollments, at=reply.at, cause=cause, tasks=reply.tasks)
            if colleague.status == LeadStatus.ACTIVE:
                colleague.status = LeadStatus.PAUSED
        if "flag" in actions:
            flag(
                reply.session,
                colleague.id,
                ReviewReason.COLLEAGUE_REPLIED,
                at=reply.at,
                detail=f"{cause} ({reply.found.confidence:.0%}); resume, or stop this lead",
                sequence=reply.spec.name,
                inbound_id=reply.inbound.id,
                suggested_action=ReviewAction.RESUME,
                open_items=reply.items,
            )
        colleague.updated_at = reply.at


def store_classification(inbound: InboundMessage, found: Classification, at: datetime) -> None:
    """Keep the classification on the stored message."""
    inbound.intent = found.intent
    inbound.confidence = round(found.confidence, 3)
    inbound.return_date = found.return_date
    inbound.referral_email = found.referral_email
    inbound.reply_text = found.text[:20000]
    inbound.classification = {key: value for key, value in found.as_json().items() if key != "text"}
    inbound.processed_at = at


def _sequence_of(
    session: Session,
    catalog: Catalog,
    lead: Lead,
    touch: Touch | None,
    known: list[Enrollment] | None = None,
) -> SequenceSpec | None:
    """The sequence of the touch replied to, else of the lead's latest enrollment."""
    name = touch.sequence if touch is not None else None
    if name is None and known:
        name = max(known, key=lambda e: (e.enrolled_at, e.id)).sequence
    elif name is None and known is None:
        name = session.scalar(
            select(Enrollment.sequence)
            .where(Enrollment.lead_id == lead.id)
            .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())
            .limit(1)
        )
    loaded = catalog.sequences.get(name) if name else None
    return loaded.spec if loaded is not None else None


# ---- actions ---------------------------------------------------------------------------------


def _pause(reply: _Reply, cause: str, resume_at: datetime | None = None) -> None:
    """Pause the lead's open enrollments."""
    lifecycle.pause(
        reply.session,
        reply.open_enrollments(),
        at=reply.at,
        cause=cause,
        resume_at=resume_at,
        tasks=reply.tasks,
    )


def _stop_enrollments(reply: _Reply) -> None:
    """Stop the lead's open enrollments."""
    lifecycle.stop(
        reply.session, reply.open_enrollments(), at=reply.at, cause=reply.cause, tasks=reply.tasks
    )


def _flag(reply: _Reply, *, hot: bool = False) -> None:
    found = reply.found
    _pause(reply, reply.cause)
    if _asks_for_acceptance(reply):
        # "Accept as SQL?" takes the place of the (hot-lead) flag: one item, not two.
        _open_acceptance(reply, needs_review=True, advice=_suggestion(reply, hot)[1])
        return
    reason = ReviewReason.HOT_LEAD if hot else ReviewReason(f"reply_{found.intent}")
    if reply.low_confidence and not hot:
        reason = ReviewReason.REPLY_LOW_CONFIDENCE
    suggestion, advice = _suggestion(reply, hot)
    deadline = None
    if found.intent == "data_request" and not reply.low_confidence:
        deadline = reply.at + timedelta(days=reply.policy.data_request_deadline_days)
        advice = f"{advice} (due {deadline:%Y-%m-%d})"
    flag(
        reply.session,
        reply.lead.id,
        reason,
        at=reply.at,
        detail=advice,
        touch_id=reply.touch.id if reply.touch else None,
        priority=HOT if hot else 0,
        sequence=reply.spec.name if reply.spec else None,
        inbound_id=reply.inbound.id,
        suggested_action=suggestion,
        due_at=deadline,
        open_items=reply.items,
    )


def _defer(reply: _Reply) -> None:
    """Not now, later: pause until the day they named (else the fallback) and give a rep a
    task for that day; the sequence resumes on it unless the rep decides otherwise."""
    found = reply.found
    resume_at = resume_time(
        found.return_date, reply.lead.timezone, reply.at, reply.policy.later_fallback_days
    )
    named = found.return_date.isoformat() if found.return_date else "no day named"
    _pause(reply, f"later: {named}", resume_at)
    if reply.lead.status == LeadStatus.ACTIVE:
        reply.lead.status = LeadStatus.PAUSED
    flag(
        reply.session,
        reply.lead.id,
        ReviewReason.REPLY_LATER,
        at=reply.at,
        detail=(
            f"asked us to come back later ({named}); the sequence resumes "
            f"{resume_at:%Y-%m-%d %H:%M} UTC unless you resolve this first"
        ),
        touch_id=reply.touch.id if reply.touch else None,
        sequence=reply.spec.name if reply.spec else None,
        inbound_id=reply.inbound.id,
        suggested_action=ReviewAction.RESUME,
        due_at=resume_at,
        needs_review=False,
        open_items=reply.items,
    )


def _suggestion(reply: _Reply, hot: bool) -> tuple[str, str]:
    """The resolve action a rep most likely wants, and one line of advice."""
    found = reply.found
    said = f"{_SAYS.get(found.intent, found.intent)} ({found.intent}, {found.confidence:.0%})"
    if found.intent == "referral" and found.referral_email:
        said = f"refers us to {found.referral_email} ({found.confidence:.0%})"
    if reply.low_confidence and not hot:
        return f"reclassify:{found.intent}", f"unsure: best guess {said} — read it and reclassify"
    if hot:
        target = reply.catalog.for_stage(reply.lead.stage)
        if reply.open_enrollments():
            action: str = ReviewAction.RESUME
        else:
            action = f"enroll:{target.name}" if target is not None else ReviewAction.WON
        return action, f"hot lead: {said}; get in touch now, then {action}"
    if found.intent == "question":
        return ReviewAction.RESUME, f"{said}; answer it, then resume"
    if found.intent in ("referral", "left_company"):
        if found.referral_email:
            return ReviewAction.ADD_REFERRAL, f"{said}; add them as a lead and stop this sequence"
        return ReviewAction.STOP, f"{said}; add them as a lead, then stop"
    if found.intent == "later":
        when = found.return_date.isoformat() if found.return_date else "the time they name"
        return ReviewAction.RESUME, f"{said}; come back on {when}: resume then, or stop"
    if found.intent == "data_request":
        return ReviewAction.STOP, f"{said}; answer within one month (GDPR Art. 12), then stop"
    return ReviewAction.RESUME, f"{said}; read the reply and decide"


_SAYS = {
    "positive": "interested",
    "negative": "not interested",
    "question": "asks a question",
    "referral": "refers us to someone else",
    "unknown": "unclear reply",
    "ooo": "out of office",
    "auto_reply": "automatic reply",
    "unsubscribe": "asks to unsubscribe",
    "bounce_hard": "bounced",
    "bounce_soft": "bounced for now",
    "complaint": "complained (marked our mail as spam)",
    "later": "not now, later",
    "data_request": "data-protection request",
    "left_company": "has left the company",
}


def _pause_only(reply: _Reply) -> None:
    _pause(reply, reply.cause)
    if reply.lead.status == LeadStatus.ACTIVE:
        reply.lead.status = LeadStatus.PAUSED


def _stop(reply: _Reply, *, lead_status: LeadStatus = LeadStatus.STOPPED) -> None:
    _stop_enrollments(reply)
    if reply.lead.status not in (LeadStatus.UNSUBSCRIBED, LeadStatus.BOUNCED):
        reply.lead.status = lead_status
    reply.lead.updated_at = reply.at


def _final_stage(stage: Stage) -> Callable[[_Reply], None]:
    def apply(reply: _Reply) -> None:
        _stop(reply)
        change_stage(reply.session, reply.lead, stage, at=reply.at, cause=reply.cause)

    return apply


def _advance(reply: _Reply) -> None:
    _stop_enrollments(reply)
    stage = next_stage(reply.lead.stage)
    change_stage(reply.session, reply.lead, stage, at=reply.at, cause=reply.cause)
    if reply.lead.status in (LeadStatus.ACTIVE, LeadStatus.PAUSED):
        lifecycle.settle_status(reply.session, reply.lead, reply.at, reply.open_enrollments())


def _enroll_next(reply: _Reply) -> None:
    _enroll(reply, reply.catalog.for_stage(reply.lead.stage))


def _enroll(reply: _Reply, target: SequenceSpec | None) -> None:
    _stop_enrollments(reply)
    if target is None:
        return
    if reply.lead.status in (
        LeadStatus.ACTIVE,
        LeadStatus.PAUSED,
        LeadStatus.COMPLETED,
        LeadStatus.STOPPED,
    ):
        reply.lead.status = LeadStatus.ACTIVE
    reply.session.flush()
    reply.enrolled()
    result = enroll_leads(
        reply.session,
        [reply.lead],
        target,
        at=reply.at,
        cause=reply.cause,
        schedules=reply.catalog.schedules,
    )
    if not result.enrolled:
        lifecycle.settle_status(reply.session, reply.lead, reply.at, reply.open_enrollments())


def _suppress(reply: _Reply) -> None:
    _suppress_for_good(reply, "unsubscribe", LeadStatus.UNSUBSCRIBED)


def _bounce(reply: _Reply) -> None:
    _suppress_for_good(reply, "bounce", LeadStatus.BOUNCED)


def _complain(reply: _Reply) -> None:
    """A spam complaint: never mail the address again; the lead is unsubscribed. The
    ``classified`` event of the touch counts against its mailbox (``mailboxes.pauses``)."""
    _suppress_for_good(reply, "complaint", LeadStatus.UNSUBSCRIBED)
    log.warning(
        "spam complaint from %s: address suppressed",
        reply.lead.email,
        extra={"lead_id": reply.lead.id, "event": "complaint"},
    )


def _suppress_for_good(reply: _Reply, cause: str, status: LeadStatus) -> None:
    """Suppress the lead's address (``cause``), stop its sequences, set its status."""
    lifecycle.suppress(reply.session, reply.lead.email, reason=cause, at=reply.at)
    _stop(reply, lead_status=status)
    reply.lead.status = status
    row: dict[str, Any] = {
        "kind": EventKind.SUPPRESSED,
        "at": reply.at,
        "lead_id": reply.lead.id,
        "cause": cause,
        "detail": {}
        if cause == "unsubscribe"
        else {"recipients": list(reply.found.bounced_recipients)},
    }
    events.record_many(reply.session, [row])


def _retry(reply: _Reply) -> None:
    soft = reply.batch.soft_bounces_of(reply.lead.id) if reply.batch is not None else None
    if soft is None:
        events.flush_buffered(reply.session)  # the count includes this reply's own event
        soft = reply.session.scalar(
            select(func.count(Event.id)).where(
                Event.lead_id == reply.lead.id,
                Event.kind == EventKind.CLASSIFIED,
                Event.cause == "bounce_soft",
            )
        )
    if (soft or 0) >= reply.policy.soft_bounce_limit:
        _bounce(reply)
        return
    if is_delay_notice(reply.inbound.raw):
        return  # the mail system still holds the original: a resend could arrive twice
    touch = reply.touch or _last_sent_touch(reply.session, reply.lead.id)
    if touch is None or touch.status != TouchStatus.SENT:
        return
    enrollment = reply.session.get(Enrollment, touch.enrollment_id)
    if enrollment is None or enrollment.status != EnrollmentStatus.ACTIVE:
        return
    if enrollment.current_step != touch.step_index + 1 or _later_touch(reply, touch):
        return  # the sequence has moved on: its next touch is the retry
    touch.status = TouchStatus.QUEUED
    touch.available_at = reply.at + timedelta(seconds=reply.policy.soft_bounce_retry_s)
    touch.enqueued_at = None
    touch.claim_token = None
    touch.claimed_at = None
    touch.finished_at = None
    touch.last_error = "soft bounce: sending again"
    enrollment.current_step = touch.step_index
    enrollment.next_due_at = None
    events.record(
        reply.session,
        EventKind.REQUEUED,
        at=reply.at,
        lead_id=reply.lead.id,
        touch_id=touch.id,
        sequence=touch.sequence,
        step_index=touch.step_index,
        cause="bounce_soft",
        available_at=touch.available_at.isoformat(),
    )


def _last_sent_touch(session: Session, lead_id: int) -> Touch | None:
    return session.scalar(
        select(Touch)
        .where(Touch.lead_id == lead_id, Touch.status == TouchStatus.SENT)
        .order_by(Touch.finished_at.desc(), Touch.id.desc())
        .limit(1)
    )


def _later_touch(reply: _Reply, touch: Touch) -> bool:
    """Whether a later step of the touch's enrollment has a touch that was not skipped.

    In a batch, read without flushing: acting on replies never makes a touch skipped or
    not skipped but through statements written at once (closing a task)."""
    session = reply.session
    with session.no_autoflush if reply.batch is not None else nullcontext():
        return _later_touch_in(session, touch)


def _later_touch_in(session: Session, touch: Touch) -> bool:
    return (
        session.scalar(
            select(Touch.id).where(
                Touch.enrollment_id == touch.enrollment_id,
                Touch.step_index > touch.step_index,
                Touch.status != TouchStatus.SKIPPED,
            )
        )
        is not None
    )


def _wait_for_return(reply: _Reply) -> None:
    resume_at = resume_time(
        reply.found.return_date, reply.lead.timezone, reply.at, reply.policy.ooo_fallback_days
    )
    _pause(reply, "out of office", resume_at)
    if reply.lead.status == LeadStatus.ACTIVE:
        reply.lead.status = LeadStatus.PAUSED


def resume_time(
    return_date: date | None, timezone: str | None, at: datetime, fallback_days: int
) -> datetime:
    """9:00 in the lead's time zone on the return date (now if already past), else a fallback."""
    if return_date is None:
        return at + timedelta(days=fallback_days)
    local = datetime.combine(return_date, RESUME_LOCAL_TIME, tzinfo=lead_zone(timezone))
    return max(local.astimezone(UTC), at)


_HANDLERS: dict[str, Callable[[_Reply], None]] = {
    "advance": _advance,
    "enroll_next": _enroll_next,
    "flag": _flag,
    "flag_hot": lambda reply: _flag(reply, hot=True),
    "pause": _pause_only,
    "stop": _stop,
    "lost": _final_stage(Stage.LOST),
    "won": _final_stage(Stage.WON),
    "suppress": _suppress,
    "bounce": _bounce,
    "complain": _complain,
    "retry": _retry,
    "wait_for_return": _wait_for_return,
    "defer": _defer,
    "continue": lambda reply: None,
}
