"""``outreach simulate``: when would each upcoming touch go out? A dry run that sends nothing.

It plays the schedule forward from the database's current state with the same rules the
engine applies: each step's wait (business days skip the lead's public holidays and blackout
dates), the sequence's send window in the lead's time zone with its jitter, each mailbox's
daily limit and spacing and the per-domain cap (starting from today's real usage), and paused
leads that resume on an out-of-office return date. Touches are placed in time order across
all leads, so caps roll work over to the next day exactly as the gates would. Replies cannot be
foreseen: the plan assumes nobody answers.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from worker.authoring.mailboxes import Mailboxes
from worker.authoring.schedules import Schedules
from worker.authoring.schema import SequenceSpec
from worker.authoring.step_ids import step_ids
from worker.delivery import change_policy
from worker.delivery.sequence_changes import describe
from worker.delivery.variants import resolve_variant
from worker.errors import NotFoundError
from worker.leads.addresses import domain_of
from worker.mailboxes.capacity import usage_on
from worker.mailboxes.limits import Usage, day_of, decide, limits_for
from worker.runtime import Runtime
from worker.store.models import Enrollment, Lead, Touch
from worker.timing.windows import current_window, due_at, jittered_opening
from worker.vocabulary import EnrollmentStatus, LeadStatus, TouchStatus

MAX_PLANNED = 200_000


@dataclass(frozen=True)
class PlannedTouch:
    """One touch as it would go out (or, for a manual step, fall due)."""

    lead: str
    sequence: str
    step: int
    kind: str
    at: datetime
    local: datetime
    mailbox: str | None
    variant: str | None
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "lead": self.lead,
            "sequence": self.sequence,
            "step": self.step,
            "kind": self.kind,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "local": self.local.isoformat(),
            "mailbox": self.mailbox,
            "variant": self.variant,
            "notes": list(self.notes),
        }


@dataclass(order=True)
class _Next:
    at: datetime
    order: int
    lead: Lead = field(compare=False)
    enrollment: Enrollment = field(compare=False)
    step_index: int = field(compare=False)
    notes: tuple[str, ...] = field(compare=False, default=())


@dataclass
class _Capacity:
    """Daily counts and last sends per mailbox and recipient domain, as the plan fills them."""

    mailboxes: Mailboxes
    sent: Counter[tuple[str, date]] = field(default_factory=Counter)
    domain_sent: Counter[tuple[str, date]] = field(default_factory=Counter)
    last: dict[str, datetime] = field(default_factory=dict)

    def fits(self, mailbox: str, recipient: str, at: datetime) -> tuple[datetime, str] | None:
        """None when a send fits at ``at``; else the earliest retry time and the reason (the
        engine's own decision, over the counts of the plan so far)."""
        limits = limits_for(self.mailboxes, mailbox)
        if limits is None:
            return None
        day, domain = day_of(at), domain_of(recipient)
        usage = Usage(self.sent[(mailbox, day)], self.last.get(mailbox))
        refused = decide(mailbox, domain, limits, usage, self.domain_sent[(domain, day)], at)
        return None if refused is None else (refused.until, refused.reason)

    def take(self, mailbox: str, recipient: str, at: datetime) -> None:
        self.sent[(mailbox, day_of(at))] += 1
        self.domain_sent[(domain_of(recipient), day_of(at))] += 1
        self.last[mailbox] = max(at, self.last.get(mailbox, at))


def simulate(runtime: Runtime, days: int, lead_email: str | None = None) -> list[PlannedTouch]:
    """Every touch due within ``days`` from now, in the order it would go out."""
    now = runtime.clock.now()
    horizon = now + timedelta(days=days)
    catalog = runtime.catalog
    schedules = catalog.schedules
    mailboxes = runtime.mailboxes
    capacity = _Capacity(mailboxes)
    today = day_of(now)
    for name, usage in usage_on(runtime, sorted(mailboxes.by_name), today).items():
        capacity.sent[(name, today)] = usage.sent
        if usage.last_sent_at is not None:
            capacity.last[name] = usage.last_sent_at
    had: dict[int, set[str]] = {}
    queue = _starting_points(runtime, now, lead_email, had)
    heapq.heapify(queue)
    order = len(queue)
    plan: list[PlannedTouch] = []
    while queue and len(plan) < MAX_PLANNED:
        nxt = heapq.heappop(queue)
        if nxt.at > horizon:
            break
        spec = runtime.versions.spec(nxt.enrollment.sequence, nxt.enrollment.version)
        step = spec.steps[nxt.step_index]
        at, notes = nxt.at, list(nxt.notes)
        mailbox = nxt.enrollment.mailbox or spec.mailbox
        if step.is_email:
            moved = _window(schedules, spec, nxt, at)
            if moved is not None:
                order += 1
                heapq.heappush(queue, _again(nxt, moved, order, "outside the send window"))
                continue
            full = capacity.fits(mailbox, nxt.lead.email, at)
            if full is not None:
                retry, reason = full
                order += 1
                heapq.heappush(queue, _again(nxt, max(retry, at), order, f"rolled over: {reason}"))
                continue
            capacity.take(mailbox, nxt.lead.email, at)
        variant = resolve_variant(step, nxt.lead.email, spec.name, nxt.step_index)
        zone = schedules.zone(nxt.lead.timezone)
        plan.append(
            PlannedTouch(
                lead=nxt.lead.email,
                sequence=spec.name,
                step=nxt.step_index + 1,
                kind=step.type,
                at=at,
                local=at.astimezone(zone),
                mailbox=mailbox if step.is_email else None,
                variant=variant.name if variant is not None else None,
                notes=tuple(dict.fromkeys(notes)),
            )
        )
        following = _after(spec, nxt.step_index, had.get(nxt.enrollment.id, set()))
        if following < len(spec.steps):
            order += 1
            heapq.heappush(
                queue,
                _Next(
                    _due(schedules, spec, nxt.lead, at, following),
                    order,
                    nxt.lead,
                    nxt.enrollment,
                    following,
                ),
            )
    return plan


def _starting_points(
    runtime: Runtime, now: datetime, lead_email: str | None, had: dict[int, set[str]]
) -> list[_Next]:
    """Where each open enrollment stands: its outstanding touch, its next due time, or the
    time a paused lead resumes (out-of-office). A lead whose sequence changed since starts
    where the sequence's ``on_change`` puts it (``had``: per enrollment, the step ids it
    already got, passed over on its way)."""
    catalog = runtime.catalog
    starts: list[_Next] = []
    with runtime.sessions() as session:
        query = (
            select(Lead, Enrollment)
            .join(Enrollment, Enrollment.lead_id == Lead.id)
            .where(Enrollment.status.in_((EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)))
            .order_by(Enrollment.id)
        )
        if lead_email:
            query = query.where(Lead.email == lead_email.strip().lower())
        rows = [(lead, enrollment) for lead, enrollment in session.execute(query)]
        for got in session.scalars(
            select(Touch).where(
                Touch.enrollment_id.in_([e.id for _, e in rows]), Touch.step_id.is_not(None)
            )
        ):
            if got.status not in (TouchStatus.SKIPPED, TouchStatus.QUEUED):
                had.setdefault(got.enrollment_id, set()).add(str(got.step_id))
        outstanding = {
            (touch.enrollment_id, touch.step_index): touch
            for touch in session.scalars(
                select(Touch).where(
                    Touch.status.in_(
                        (
                            TouchStatus.QUEUED,
                            TouchStatus.CLAIMED,
                            TouchStatus.SENDING,
                            TouchStatus.DELIVERED,
                        )
                    )
                )
            )
        }
        session.expunge_all()
    for lead, enrollment in rows:
        if enrollment.sequence not in catalog:
            continue
        notes: tuple[str, ...] = ()
        change = _apply_change(runtime, enrollment, had.get(enrollment.id, set()))
        if change is not None:
            notes = (change,)
        spec = runtime.versions.spec(enrollment.sequence, enrollment.version)
        if enrollment.current_step >= len(spec.steps):
            continue
        # A changed sequence's tick moves or skips the outstanding touch.
        touch: Touch | None = None
        if change is None:
            touch = outstanding.get((enrollment.id, enrollment.current_step))
        if enrollment.status == EnrollmentStatus.PAUSED or lead.status != LeadStatus.ACTIVE:
            if enrollment.resume_at is None or lead.status not in (
                LeadStatus.PAUSED,
                LeadStatus.ACTIVE,
            ):
                continue  # paused for a rep: nothing goes out until they decide
            at, notes = max(enrollment.resume_at, now), (*notes, "resumes after out-of-office")
        elif touch is not None:
            at = max(touch.available_at, now)
        elif enrollment.next_due_at is not None:
            at = max(enrollment.next_due_at, now)
        else:
            continue
        starts.append(_Next(at, len(starts), lead, enrollment, enrollment.current_step, notes))
    return starts


def _apply_change(runtime: Runtime, enrollment: Enrollment, had: set[str]) -> str | None:
    """Move an (expunged, never saved) enrollment as the next tick will when its sequence
    changed; the note saying so, or None when nothing changes."""
    book = runtime.versions
    current = book.current(enrollment.sequence)
    if enrollment.version is None or enrollment.seen_version == current.version:
        return None
    try:
        old_ids = book.ids(enrollment.sequence, enrollment.version)
    except NotFoundError:
        return None
    move = change_policy.decide(
        runtime.catalog.get(enrollment.sequence).on_change,
        old_ids,
        book.ids(enrollment.sequence, current.version),
        enrollment.current_step,
        had,
        old_version=enrollment.version,
        new_version=current.version,
    )
    enrollment.version, enrollment.current_step = move.version, move.position
    if enrollment.next_due_at is None and enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.next_due_at = runtime.clock.now()
    return describe(move, current)


def _after(spec: SequenceSpec, index: int, had: set[str]) -> int:
    """The step after ``index``, passing over steps the lead already got."""
    ids = step_ids(spec)
    following = index + 1
    while following < len(ids) and ids[following] in had:
        following += 1
    return following


def _window(schedules: Schedules, spec: SequenceSpec, nxt: _Next, at: datetime) -> datetime | None:
    """The later time the send window moves this touch to, or None when it is open."""
    schedule = schedules.by_name.get(spec.schedule) if spec.schedule else None
    if schedule is None:
        return None
    zone = schedules.zone(nxt.lead.timezone)
    opening, _ = current_window(at, schedule, zone, nxt.lead.country)
    if opening <= at:
        return None
    return jittered_opening(
        opening,
        schedule,
        zone,
        nxt.lead.country,
        lead_id=nxt.lead.id,
        sequence=spec.name,
        step_index=nxt.step_index,
    )


def _due(
    schedules: Schedules, spec: SequenceSpec, lead: Lead, start: datetime, index: int
) -> datetime:
    step = spec.steps[index]
    return due_at(
        schedules,
        spec.schedule,
        start,
        step.wait,
        timezone=lead.timezone,
        country=lead.country,
        lead_id=lead.id,
        sequence=spec.name,
        step_index=index,
        sends=step.is_email,
    )


def _again(nxt: _Next, at: datetime, order: int, note: str) -> _Next:
    return _Next(at, order, nxt.lead, nxt.enrollment, nxt.step_index, (*nxt.notes, note))
