"""Resolving review items: what a rep decided, applied to the lead and recorded with a note.

Actions: ``resume`` (back to its sequence), ``stop``, ``lost``, ``won``, ``unsubscribe``
(suppress the address for good), ``advance`` (next stage and its sequence),
``enroll:SEQUENCE``, ``reclassify:INTENT`` (the rep's reading of a reply, acted on like
the classifier's), for a touch whose delivery is unknown ``sent`` (it went out: go on
with the next step) or ``not-sent`` (send it again), and for a call or LinkedIn task ``done``
or ``skip`` (the sequence moves on to its next step after that step's wait), and for a
referral ``add-referral`` (the referred address becomes a lead of the same company, enrolled
in the first stage's sequence; the referrer's sequence stops), and for "Accept as SQL?"
``accept-sql`` and ``reject-sql`` with the rep's answers (``worker.qualification``), and for
a message from an unknown sender ``attach`` (to the lead ``lead_email`` names: processed as its
reply), ``create-lead``, ``suppress-sender`` or ``dismiss`` (``worker.review.senders``).

What a resolution changes is kept for ``undo_window_s`` seconds so a rep can undo it
(``worker.review.undo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from worker.authoring.sequences import Catalog
from worker.errors import NotFoundError, OutreachError
from worker.inbound.reactions import ReplyPolicy, act_on_reply, store_classification
from worker.leads import lifecycle
from worker.leads.capture import capture_lead
from worker.leads.enrollment import BLOCKING_LEAD_STATUSES, enroll_leads
from worker.leads.flags import other_open_items
from worker.leads.rep_tasks import finish_task, is_task_reason
from worker.leads.stages import change_stage, next_stage
from worker.qualification import accept, acceptance, reject, rejection
from worker.qualification.decisions import check_item
from worker.review.senders import SENDER_ACTIONS, act_on_sender, lead_to_attach, unmatched_message
from worker.review.undo import Snapshot, keep
from worker.runtime import Runtime
from worker.store import events
from worker.store.models import Enrollment, InboundMessage, Lead, ReviewItem, Touch
from worker.timing.windows import due_after
from worker.understanding import INTENTS, Classification
from worker.vocabulary import (
    PIPELINE_STAGES,
    EventKind,
    LeadStatus,
    ReviewAction,
    ReviewReason,
    Stage,
    TouchStatus,
)

# What a rep can choose (every action but the tick's ``timeout``).
ACTIONS: tuple[ReviewAction, ...] = tuple(a for a in ReviewAction if a != ReviewAction.TIMEOUT)
RECLASSIFY = "reclassify:"
TASK_ACTIONS = (ReviewAction.DONE, ReviewAction.SKIP)
# A rep's answers to "Accept as SQL?" (``worker.qualification.answers``).
SQL_ACTIONS = (ReviewAction.ACCEPT_SQL, ReviewAction.REJECT_SQL)
Answers = Mapping[str, str | None]
# What else a task item accepts: decisions that end the lead's sequence (and so the task).
_ENDING_ACTIONS = (
    ReviewAction.STOP,
    ReviewAction.LOST,
    ReviewAction.WON,
    ReviewAction.UNSUBSCRIBE,
    ReviewAction.ADVANCE,
)


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one item."""

    item_id: int
    action: str
    lead_email: str | None


def resolve_now(
    runtime: Runtime,
    item_id: int,
    action: str,
    *,
    note: str | None = None,
    by: str | None = None,
    answers: Answers | None = None,
    lead_email: str | None = None,
) -> Resolution:
    """``resolve`` in its own transaction, now, with the runtime's sequences, reply policy and
    undo window."""
    with runtime.sessions.begin() as session:
        return resolve(
            session,
            runtime.catalog,
            item_id,
            action,
            at=runtime.clock.now(),
            note=note,
            policy=ReplyPolicy.from_settings(runtime.settings),
            by=by,
            answers=answers,
            lead_email=lead_email,
            undo_window_s=runtime.settings.undo_window_s,
        )


def resolve(
    session: Session,
    catalog: Catalog,
    item_id: int,
    action: str,
    *,
    at: datetime,
    note: str | None = None,
    policy: ReplyPolicy | None = None,
    by: str | None = None,
    answers: Answers | None = None,
    lead_email: str | None = None,
    undo_window_s: int = 0,
) -> Resolution:
    """Apply ``action`` to review item ``item_id`` and close it; OutreachError if it cannot.

    ``lead_email``: for ``attach``, the address of the lead the message belongs to.
    ``undo_window_s``: how long the resolution can be undone (0: not at all).

    ``answers``: for ``accept-sql`` the rep's answers (interested, buying_now, timeframe,
    decision_maker, who), for ``reject-sql`` the ``reason`` (``note`` explains ``other``);
    checked before anything changes.

    A reply's item keeps what the rep's decision says about the reply (a reclassification, or
    the intent the action implies) as a labelled example for training the reply model."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"No review item {item_id} — see 'outreach review list'.")
    decided, refused = None, None
    if item.resolved_at is not None:
        raise OutreachError(f"Review item {item_id} was already resolved ({item.resolution}).")
    if action not in ACTIONS and not action.startswith(("enroll:", RECLASSIFY)):
        raise OutreachError(
            f"Unknown action {action!r} — use one of {', '.join(ACTIONS)}, enroll:SEQUENCE "
            "or reclassify:INTENT."
        )
    _check_task_action(item, action)
    if action in SQL_ACTIONS:
        check_item(item, action)
        if answers is None:
            verb = "accept" if action == ReviewAction.ACCEPT_SQL else "reject"
            raise OutreachError(
                f"{action} needs the rep's answers — use 'outreach review {verb} {item_id} …' "
                "or the web queue's form."
            )
        # Read before the claim, so a missing answer changes nothing.
        decided = acceptance(answers or {}) if action == ReviewAction.ACCEPT_SQL else None
        refused = rejection(answers or {}, note) if action == ReviewAction.REJECT_SQL else None
    inbound, target = None, None
    if action in SENDER_ACTIONS:
        inbound = unmatched_message(session, item, action)
        if action == ReviewAction.ATTACH:
            target = lead_to_attach(session, item, lead_email)
    snapshot = _snapshot(session, item, action, target) if undo_window_s > 0 else None
    _claim(session, item, at)
    policy = policy or ReplyPolicy()
    lead = session.get(Lead, item.lead_id) if item.lead_id is not None else None
    if inbound is not None:
        lead = act_on_sender(session, catalog, policy, item, inbound, action, lead=target, at=at)
    elif lead is None:
        if action != ReviewAction.STOP:
            raise OutreachError(
                f"Review item {item_id} belongs to no lead; close it with --action stop"
                + (
                    " (or attach, create-lead, suppress-sender, dismiss)."
                    if item.reason == ReviewReason.INBOUND_UNMATCHED
                    else "."
                )
            )
    elif decided is not None:
        accept(session, catalog, item, lead, decided, at=at, by=by)
    elif refused is not None:
        reject(session, catalog, item, lead, refused, at=at, by=by)
    else:
        _apply(session, catalog, policy, item, lead, action, at)
    item.resolved_at = at
    item.resolution = action
    item.note = note
    _label(session, item, action, by, at)
    if lead is not None:
        events.record(
            session,
            EventKind.RESOLVED,
            at=at,
            lead_id=lead.id,
            cause=action,
            item=item_id,
            note=note,
        )
        if lead.status == LeadStatus.NEEDS_REVIEW and not other_open_items(session, item):
            lifecycle.settle_status(session, lead, at)
    if snapshot is not None:
        keep(
            session,
            item,
            snapshot,
            lead_id=lead.id if lead is not None else None,
            by=by,
            at=at,
            window_s=undo_window_s,
        )
    return Resolution(item_id, action, lead.email if lead is not None else None)


def _snapshot(session: Session, item: ReviewItem, action: str, target: Lead | None) -> Snapshot:
    """What resolving ``item`` with ``action`` may change, read before it does."""
    involved = [i for i in (item.lead_id, target.id if target else None) if i is not None]
    with_message = bool(involved) or action == ReviewAction.CREATE_LEAD
    return Snapshot.take(session, item, involved, inbound=with_message)


# What a resolution says about the reply it answers, when the rep did not reclassify it.
_IMPLIED: dict[str, str] = {
    ReviewAction.ADVANCE: "positive",
    ReviewAction.WON: "positive",
    ReviewAction.LOST: "negative",
    ReviewAction.UNSUBSCRIBE: "unsubscribe",
}


def implied_intent(action: str, said: str | None) -> str | None:
    """The intent a rep's action gives a reply the machine read as ``said``, or None."""
    if action.startswith(RECLASSIFY):
        return action[len(RECLASSIFY) :]
    if action == ReviewAction.ADD_REFERRAL:
        return said if said in ("referral", "left_company") else "referral"
    return _IMPLIED.get(action)


def _label(session: Session, item: ReviewItem, action: str, by: str | None, at: datetime) -> None:
    inbound = session.get(InboundMessage, item.inbound_id) if item.inbound_id else None
    if inbound is None:
        return
    intent = implied_intent(action, inbound.intent)
    if intent in INTENTS:
        inbound.label = intent
        inbound.labelled_by = by or "command line"
        inbound.labelled_at = at


def _claim(session: Session, item: ReviewItem, at: datetime) -> None:
    """Mark the item resolved before acting, atomically: of two reps resolving it at once
    (two browser tabs, the web and the command line), one acts and the other is told."""
    claimed = session.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item.id, ReviewItem.resolved_at.is_(None))
        .values(resolved_at=at)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise OutreachError(f"Review item {item.id} was already resolved by someone else.")


def _apply(
    session: Session,
    catalog: Catalog,
    policy: ReplyPolicy,
    item: ReviewItem,
    lead: Lead,
    action: str,
    at: datetime,
) -> None:
    enrollments = lifecycle.open_enrollments(session, lead.id)
    if action in TASK_ACTIONS:
        _finish_task(session, catalog, item, action, at)
    elif action == ReviewAction.ADD_REFERRAL:
        _add_referral(session, catalog, item, lead, enrollments, at)
    elif action in (ReviewAction.SENT, ReviewAction.NOT_SENT):
        _settle_unknown_touch(session, catalog, item, lead, action == ReviewAction.SENT, at)
    elif action.startswith(RECLASSIFY):
        _reclassify(session, catalog, policy, item, action[len(RECLASSIFY) :], at)
    elif action == ReviewAction.RESUME:
        lifecycle.resume(session, enrollments, at=at, cause="rep")
        _set_status(lead, LeadStatus.ACTIVE)
    elif action in (
        ReviewAction.STOP,
        ReviewAction.LOST,
        ReviewAction.WON,
        ReviewAction.UNSUBSCRIBE,
    ):
        lifecycle.stop(session, enrollments, at=at, cause=f"rep: {action}")
        _set_status(
            lead,
            LeadStatus.UNSUBSCRIBED if action == ReviewAction.UNSUBSCRIBE else LeadStatus.STOPPED,
        )
        if action in (ReviewAction.LOST, ReviewAction.WON):
            change_stage(session, lead, Stage(action), at=at, cause="rep")
        if action == ReviewAction.UNSUBSCRIBE:
            lifecycle.suppress(session, lead.email, reason="unsubscribe", at=at)
    elif action == ReviewAction.ADVANCE or action.startswith("enroll:"):
        if action == ReviewAction.ADVANCE:
            stage = next_stage(lead.stage)
            change_stage(session, lead, stage, at=at, cause="rep")
            target = catalog.for_stage(stage)
        else:
            target = catalog.get(action.split(":", 1)[1])
        lifecycle.stop(session, enrollments, at=at, cause=f"rep: {action}")
        _set_status(lead, LeadStatus.ACTIVE)
        session.flush()
        if target is not None:
            result = enroll_leads(
                session, [lead], target, at=at, cause="rep", schedules=catalog.schedules
            )
            if not result.enrolled:
                reasons = ", ".join(result.skipped) or "unknown reason"
                raise OutreachError(f"{lead.email} was not enrolled in {target.name!r}: {reasons}.")


def _set_status(lead: Lead, status: LeadStatus) -> None:
    """A rep's decision never lifts an unsubscribe or a bounce (those stay for good)."""
    if lead.status not in BLOCKING_LEAD_STATUSES:
        lead.status = status


def _add_referral(
    session: Session,
    catalog: Catalog,
    item: ReviewItem,
    lead: Lead,
    enrollments: list[Enrollment],
    at: datetime,
) -> None:
    """Make the address a reply referred us to a lead (company, time zone and country of the
    referrer, ``referred_by`` = the referrer's address, ``referred_by_name`` = their name),
    enrolled in the first stage's sequence; stop the referrer's sequence. A suppressed address
    is created but never enrolled."""
    inbound = session.get(InboundMessage, item.inbound_id) if item.inbound_id else None
    referred = inbound.referral_email if inbound is not None else None
    if not referred:
        raise OutreachError(
            f"Review item {item.id} names no referred address; import the person with "
            "'outreach leads import', then resolve with stop."
        )
    target = catalog.for_stage(PIPELINE_STAGES[0])
    if target is None:
        raise OutreachError(
            f"No sequence for stage {PIPELINE_STAGES[0].value!r} to enroll {referred}."
        )
    data = {
        "email": referred,
        "company": lead.company or "",
        "timezone": lead.timezone or "",
        "country": lead.country or "",
        "referred_by": lead.email,
        # Templates greet the new lead with "<name> suggested I get in touch".
        "referred_by_name": " ".join(filter(None, [lead.first_name, lead.last_name])),
    }
    result = capture_lead(session, catalog, data, sequence=target.name, at=at, source="referral")
    if result.errors:
        problems = "; ".join(f"{k}: {v}" for k, v in result.errors.items())
        raise OutreachError(f"{referred} cannot be added as a lead: {problems}.")
    if result.erased:
        raise OutreachError(
            f"{referred} was erased at the person's request and is never added again — "
            "resolve with stop."
        )
    lifecycle.stop(session, enrollments, at=at, cause="rep: add-referral")
    _set_status(lead, LeadStatus.STOPPED)
    events.record(
        session,
        EventKind.REFERRAL_ADDED,
        at=at,
        lead_id=lead.id,
        cause="rep",
        referred=referred,
        referred_lead=result.lead_id,
        new=result.created,
        enrolled=result.enrolled,
    )


def _reclassify(
    session: Session,
    catalog: Catalog,
    policy: ReplyPolicy,
    item: ReviewItem,
    intent: str,
    at: datetime,
) -> None:
    inbound = session.get(InboundMessage, item.inbound_id) if item.inbound_id else None
    if inbound is None or inbound.lead_id is None:
        raise OutreachError(
            f"Review item {item.id} is not about a reply from a lead; "
            "reclassify applies only to those."
        )
    if intent not in INTENTS:
        raise OutreachError(
            f"Unknown intent {intent!r} — use reclassify: with one of {', '.join(INTENTS)}."
        )
    found = Classification(
        intent=intent,
        confidence=1.0,
        return_date=inbound.return_date if intent in ("ooo", "later") else None,
        referral_email=inbound.referral_email if intent in ("referral", "left_company") else None,
        text=inbound.reply_text or "",
        reasons=(f"reclassified by a rep (was {inbound.intent})",),
    )
    # This item is closed by the resolution; a flag for the new intent opens its own item,
    # and the new intent's actions decide the lead's state.
    lead = session.get(Lead, inbound.lead_id)
    if (
        lead is not None
        and lead.status == LeadStatus.NEEDS_REVIEW
        and not other_open_items(session, item)
    ):
        lead.status = LeadStatus.ACTIVE
    store_classification(inbound, found, at)
    act_on_reply(session, catalog, policy, inbound, found, at=at)


def _check_task_action(item: ReviewItem, action: str) -> None:
    """``done`` / ``skip`` only for tasks; tasks take those or a decision ending the sequence."""
    if is_task_reason(item.reason):
        if action in TASK_ACTIONS or action in _ENDING_ACTIONS or action.startswith("enroll:"):
            return
        raise OutreachError(
            f"Review item {item.id} is a {item.reason.removeprefix('task_')} task — resolve it "
            f"with --action done or skip (or {', '.join(_ENDING_ACTIONS)}, enroll:SEQUENCE)."
        )
    if action in TASK_ACTIONS:
        raise OutreachError(
            f"Review item {item.id} is not a call or LinkedIn task; 'done' and 'skip' apply "
            "only to those."
        )


def _finish_task(
    session: Session, catalog: Catalog, item: ReviewItem, action: str, at: datetime
) -> None:
    touch = session.get(Touch, item.touch_id) if item.touch_id is not None else None
    if touch is None or touch.status != TouchStatus.TASK_OPEN:
        state = touch.status if touch is not None else "gone"
        raise OutreachError(f"The task of review item {item.id} is no longer open ({state}).")
    status = TouchStatus.DONE if action == ReviewAction.DONE else TouchStatus.SKIPPED
    if not finish_task(
        session, touch, status, at=at, cause=f"rep: {action}", resolution=action, advance_in=catalog
    ):
        raise OutreachError(f"The task of review item {item.id} was closed meanwhile; try again.")


def _settle_unknown_touch(
    session: Session, catalog: Catalog, item: ReviewItem, lead: Lead, was_sent: bool, at: datetime
) -> None:
    touch = session.get(Touch, item.touch_id) if item.touch_id is not None else None
    if touch is None or touch.status != TouchStatus.UNKNOWN:
        raise OutreachError(
            f"Review item {item.id} is not about a touch whose delivery is unknown; "
            "'sent' and 'not-sent' apply only to those."
        )
    enrollment = session.get(Enrollment, touch.enrollment_id)
    assert enrollment is not None
    _set_status(lead, LeadStatus.ACTIVE)
    if not was_sent:
        touch.status = TouchStatus.QUEUED
        touch.available_at = at
        touch.enqueued_at = None
        touch.claim_token = None
        touch.holder = None
        events.record(
            session,
            EventKind.REQUEUED,
            at=at,
            lead_id=lead.id,
            touch_id=touch.id,
            cause="rep: not sent",
        )
        return
    touch.status = TouchStatus.SENT
    spec = catalog.get(touch.sequence)
    session.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.current_step == touch.step_index)
        .values(
            current_step=touch.step_index + 1,
            last_message_id=touch.message_id,
            next_due_at=due_after(
                catalog.schedules,
                spec,
                touch.step_index,
                at,
                timezone=lead.timezone,
                country=lead.country,
                lead_id=lead.id,
            ),
        )
    )
    events.record(
        session, EventKind.SENT, at=at, lead_id=lead.id, touch_id=touch.id, cause="rep: was sent"
    )
