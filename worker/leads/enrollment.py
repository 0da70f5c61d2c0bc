"""Enrolling leads into sequences and finishing enrollments."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.authoring.schedules import Schedules
from worker.authoring.schema import SequenceSpec
from worker.leads.addresses import suppressed_values, suppression_keys
from worker.leads.bulk_rows import insert_rows, one_of
from worker.leads.ownership import RULE_CAUSE, give_owners, owners_by_rule
from worker.mailboxes.pools import choose_mailboxes
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Enrollment, Event, Lead, Suppression
from worker.timing.waits import add_wait
from worker.timing.windows import business_days, current_window, due_at, jitter_offset
from worker.vocabulary import FINAL_STAGES, EnrollmentStatus, EventKind, LeadStatus

BLOCKING_LEAD_STATUSES = (LeadStatus.UNSUBSCRIBED, LeadStatus.BOUNCED)
OPEN_ENROLLMENT_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


@dataclass
class EnrollResult:
    """How many leads were enrolled and why the others were not."""

    enrolled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class Enrollable(Protocol):
    """What enrolling needs of a lead: a ``Lead``, or the lighter record an import keeps."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...


def enroll_leads(
    session: Session,
    leads: list[Lead],
    spec: SequenceSpec,
    *,
    at: datetime,
    cause: str,
    schedules: Schedules | None = None,
) -> EnrollResult:
    """Enroll ``leads`` into ``spec``; leads already in a sequence or suppressed are skipped.

    The first step is due in the sequence's send window (``schedules``, the catalog's); without
    them a touch outside its window is still held back at send time (``worker.timing.windows``).
    """
    result = EnrollResult()
    rows = _admit(session, leads, spec, at, schedules, result)
    if not rows:
        return result
    stmt = (
        dialect_insert(session, Enrollment)
        .on_conflict_do_nothing(index_elements=["lead_id", "sequence"])
        .returning(Enrollment.lead_id)
    )
    same = {
        "sequence": spec.name,
        "status": EnrollmentStatus.ACTIVE,
        "current_step": 0,
        "enrolled_at": at,
    }
    enrolled_ids = list(session.scalars(stmt, [{**row, **same} for row in rows]))
    result.enrolled = len(enrolled_ids)
    _owners_by_rule(session, rows, enrolled_ids, spec, at)
    for _ in range(len(rows) - len(enrolled_ids)):
        result.skip("already in this sequence")
    events.record_many(
        session,
        [
            {
                "kind": EventKind.ENROLLED,
                "at": at,
                "lead_id": lead_id,
                "sequence": spec.name,
                "cause": cause,
            }
            for lead_id in enrolled_ids
        ],
    )
    return result


def enroll_many(
    session: Session,
    leads: Sequence[Enrollable],
    spec: SequenceSpec,
    *,
    at: datetime,
    cause: str,
    schedules: Schedules | None = None,
    repeats: Mapping[int, int] | None = None,
    new: Collection[int] = (),
) -> EnrollResult:
    """``enroll_leads`` for thousands of leads at once (an import batch): the same rules and
    outcome, with the enrollments and their events written in one statement each.

    ``repeats`` counts further rows of a lead (its address again in the same batch): each is
    counted with the lead's outcome, as if it came later — skipped for the same reason, or
    "already in this sequence" when the lead is enrolled now. ``new`` are the ids of leads
    created in this transaction: they have no enrollments to look up.
    """
    result = EnrollResult()
    rows = _admit(session, leads, spec, at, schedules, result, repeats or {}, bulk=True, new=new)
    written = insert_rows(
        session,
        cast(Any, Enrollment.__table__),
        rows,
        columns=("lead_id", "mailbox", "next_due_at"),
        same={
            "sequence": spec.name,
            "status": EnrollmentStatus.ACTIVE,
            "current_step": 0,
            "enrolled_at": at,
        },
        skip_conflicts_on=("lead_id", "sequence"),
        returning=("lead_id",),
    )
    result.enrolled = len(written)
    _owners_by_rule(session, rows, [lead_id for (lead_id,) in written], spec, at)
    for _ in range(len(rows) - len(written)):
        result.skip("already in this sequence")
    for _ in range(sum(repeats.get(row["lead_id"], 0) for row in rows) if repeats else 0):
        result.skip("already in this sequence")
    insert_rows(
        session,
        cast(Any, Event.__table__),
        [{"lead_id": lead_id} for (lead_id,) in written],
        columns=("lead_id",),
        same={
            "kind": EventKind.ENROLLED,
            "at": at,
            "sequence": spec.name,
            "cause": cause,
            "detail": {},
        },
    )
    return result


def _owners_by_rule(
    session: Session,
    rows: list[dict[str, Any]],
    enrolled: Collection[int],
    spec: SequenceSpec,
    at: datetime,
) -> None:
    """The leads just enrolled that have no owner get the one ``mailboxes.yaml`` names for
    their mailbox or pool (``worker.leads.ownership``)."""
    chosen = {row["lead_id"]: row["mailbox"] for row in rows}
    mailboxes = {lead_id: chosen.get(lead_id) for lead_id in enrolled}
    owners = owners_by_rule(session, mailboxes, spec.mailbox)
    give_owners(session, owners, at=at, cause=RULE_CAUSE)


def _admit(
    session: Session,
    leads: Sequence[Enrollable],
    spec: SequenceSpec,
    at: datetime,
    schedules: Schedules | None,
    result: EnrollResult,
    repeats: Mapping[int, int] | None = None,
    *,
    bulk: bool = False,
    new: Collection[int] = (),
) -> list[dict[str, Any]]:
    """The enrollments (``lead_id``, ``mailbox``, ``next_due_at``) of the leads that may be
    enrolled; the others are counted in
    ``result`` with the reason (as often as ``repeats`` says, plus once). ``bulk`` looks
    thousands of leads up at once (``one_of``)."""
    if not leads:
        return []
    ids = [lead.id for lead in leads if lead.id not in new]
    emails = [lead.email for lead in leads]
    busy = _sequences_in_the_way(session, ids, spec.name, bulk=bulk) if ids else {}
    blocked = _suppressed_many(session, emails) if bulk else suppressed_values(session, emails)
    # choose_mailboxes reads a lead's id and email only
    pooled = choose_mailboxes(session, cast("Sequence[Lead]", leads), spec.mailbox)
    first_due = FirstDue(schedules or Schedules(), spec, at)
    rows = []
    for lead in leads:
        reason = None
        if lead.status in BLOCKING_LEAD_STATUSES or lead.email in blocked:
            reason = "suppressed"
        elif lead.stage in FINAL_STAGES:
            reason = f"stage {lead.stage}"
        elif lead.id in busy:
            reason = (
                "already in this sequence" if busy[lead.id] == spec.name else "in another sequence"
            )
        if reason is not None:
            for _ in range(1 + (repeats.get(lead.id, 0) if repeats else 0)):
                result.skip(reason)
        else:
            rows.append(
                {
                    "lead_id": lead.id,
                    "mailbox": pooled.get(lead.id, spec.mailbox),
                    "next_due_at": first_due(lead),
                }
            )
    return rows


def _sequences_in_the_way(
    session: Session, lead_ids: list[int], sequence: str, *, bulk: bool = False
) -> dict[int, str]:
    """Per lead, the sequence that keeps it from being enrolled into ``sequence``: an open
    enrollment, or an earlier one in ``sequence`` itself (the latest such, by id).

    The condition is applied here, not in SQL: an ``OR`` beside the ``IN`` lets SQLite's
    planner scan every active enrollment instead of looking the leads up by id.
    """
    busy: dict[int, str] = {}
    rows = session.execute(
        select(Enrollment.lead_id, Enrollment.sequence, Enrollment.status)
        .where(
            one_of(session, Enrollment.lead_id, lead_ids)
            if bulk
            else Enrollment.lead_id.in_(lead_ids)
        )
        .order_by(Enrollment.id)
    )
    for lead_id, name, status in rows:
        if status in OPEN_ENROLLMENT_STATUSES or name == sequence:
            busy[lead_id] = name
    return busy


def _suppressed_many(session: Session, emails: list[str]) -> set[str]:
    """``suppressed_values`` for thousands of addresses: the same rule, one document bound."""
    keys = {email: suppression_keys(email) for email in emails}
    wanted = {key for covering in keys.values() for key in covering}
    hits = set(
        session.scalars(select(Suppression.value).where(one_of(session, Suppression.value, wanted)))
    )
    if not hits:
        return set()
    return {email for email, covering in keys.items() if hits.intersection(covering)}


class FirstDue:
    """When the first step of ``spec`` is due for leads enrolled at ``at``: ``due_at``, worked
    out once per time zone and country. Leads that share both differ only in the jitter, a
    hash of the lead's id (``worker.timing.windows.jittered_opening``)."""

    def __init__(self, schedules: Schedules, spec: SequenceSpec, at: datetime) -> None:
        self.schedules = schedules
        self.spec = spec
        self.at = at
        self.schedule = schedules.by_name.get(spec.schedule) if spec.schedule else None
        self._windows: dict[tuple[str | None, str | None], tuple[datetime, timedelta]] = {}

    def __call__(self, lead: Enrollable) -> datetime:
        key = (lead.timezone, lead.country)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = self._window(*key)
        opening, jitter = window
        if not jitter:
            return opening
        return (opening + jitter_offset(lead.id, self.spec.name, 0, jitter)).astimezone(UTC)

    def _window(self, timezone: str | None, country: str | None) -> tuple[datetime, timedelta]:
        """The opening the first step waits for and the jitter allowed after it."""
        wait = self.spec.steps[0].wait
        if self.schedule is None:
            moment = due_at(
                self.schedules,
                self.spec.schedule,
                self.at,
                wait,
                timezone=timezone,
                country=country,
                lead_id=0,  # no schedule: no jitter
                sequence=self.spec.name,
                step_index=0,
            )
            return moment, timedelta(0)
        zone = self.schedules.zone(timezone)
        moment = add_wait(self.at, wait, zone, business_days(self.schedule, country))
        opening, end = current_window(moment, self.schedule, zone, country)
        return opening.astimezone(UTC), min(self.schedule.jitter, end - opening)
