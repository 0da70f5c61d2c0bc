"""Bulk actions on the leads a list shows: assign an owner, enroll in a sequence, pause —
and the same leads as CSV in the import's format, so the file can be edited and imported
again.

The leads are those matching the leads list's filter (``worker.queries.lead_pages.LeadFilter``),
optionally narrowed to chosen ids, read by id in chunks: one transaction per chunk (its
events written in one statement), so thousands of leads never hold one long transaction. A
lead that cannot take the action is refused before anything of it changes: it is counted
with the reason and never stops the rest. Each lead goes
through the same service as one lead does (``worker.working.lead_actions``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.authoring.sequences import Catalog
from worker.errors import FieldError, OutreachError, RefusedError
from worker.leads import lifecycle
from worker.leads.addresses import suppressed_values
from worker.leads.enrollment import OPEN_ENROLLMENT_STATUSES, enroll_many
from worker.leads.lifecycle import open_tasks
from worker.queries.lead_pages import LeadFilter
from worker.store import events
from worker.store.models import LEAD_COLUMNS, Enrollment, Lead
from worker.vocabulary import LeadStatus
from worker.working import lead_actions
from worker.working.lead_records import assign_owner, check_owner
from worker.working.outcomes import Outcome, cause_of

CHUNK = 500
ASSIGN, ENROLL, PAUSE = "assign", "enroll", "pause"
BULK_ACTIONS = (ASSIGN, ENROLL, PAUSE)
# The export's first columns: those of ``outreach leads import`` (custom fields follow).
EXPORT_COLUMNS = ("email", *LEAD_COLUMNS[:3], "stage", *LEAD_COLUMNS[3:], "owner")
_NOT_CUSTOM = frozenset({*EXPORT_COLUMNS, "status"})


@dataclass
class BulkOutcome:
    """How a bulk action went: leads changed, leads that were so already, and the leads
    skipped per reason."""

    action: str
    done: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return self.done + self.unchanged + sum(self.skipped.values())

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def summary(self) -> str:
        """One line: "12 leads: 9 paused, 1 already so, 2 skipped (2 in no sequence)"."""
        verb = {ASSIGN: "assigned", ENROLL: "enrolled", PAUSE: "paused"}.get(self.action, "done")
        text = f"{self.matched} lead{'' if self.matched == 1 else 's'}: {self.done} {verb}"
        if self.unchanged:
            text += f", {self.unchanged} already so"
        if self.skipped:
            reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
            text += f", {sum(self.skipped.values())} skipped ({reasons})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "matched": self.matched,
            "done": self.done,
            "unchanged": self.unchanged,
            "skipped": dict(sorted(self.skipped.items())),
        }


Action = Callable[[Session, Lead], Outcome]


def apply_to_leads(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    lead_filter: LeadFilter,
    action: str,
    *,
    at: datetime,
    by: str | None,
    owner: str | None = None,
    sequence: str | None = None,
    until: datetime | None = None,
    ids: Collection[int] | None = None,
    chunk: int = CHUNK,
) -> BulkOutcome:
    """Apply ``action`` (``assign`` to ``owner``, None: nobody; ``enroll`` in ``sequence``;
    ``pause``, until ``until`` when given) to every lead matching ``lead_filter`` (and in
    ``ids``, when given). A bad owner, sequence or date raises before any lead changes."""
    one = _action(
        sessions, catalog, action, owner=owner, sequence=sequence, until=until, at=at, by=by
    )
    done = BulkOutcome(action)
    for chunk_ids in _chunks(sessions, lead_filter, ids, chunk):
        with sessions.begin() as session, events.buffered(session):
            leads = list(
                session.scalars(select(Lead).where(Lead.id.in_(chunk_ids)).order_by(Lead.id))
            )
            if action == ENROLL:
                _enroll_chunk(session, catalog, str(sequence), leads, done, at=at, by=by)
            elif action == PAUSE:
                _each(session, leads, _pause_chunk(session, leads, at=at, by=by, until=until), done)
            else:
                _each(session, leads, one, done)
    return done


def _each(session: Session, leads: list[Lead], act: Action, done: BulkOutcome) -> None:
    """Apply ``act`` to each lead, counting it done, unchanged or skipped (and why)."""
    for lead in leads:
        try:  # a refusal comes before the action changes anything
            result = act(session, lead)
        except RefusedError as exc:
            done.skip(exc.why)
            continue
        except OutreachError as exc:
            done.skip(str(exc))
            continue
        if result.changed:
            done.done += 1
        else:
            done.unchanged += 1


def _action(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    action: str,
    *,
    owner: str | None,
    sequence: str | None,
    until: datetime | None,
    at: datetime,
    by: str | None,
) -> Action:
    """The action for one lead, its arguments checked once (FieldError, NotFoundError)."""
    if action == ASSIGN:
        with sessions() as session:  # an unknown rep fails here, before any lead
            name = check_owner(session, owner)
        return lambda session, lead: assign_owner(session, lead, name, at=at, by=by)
    if action == ENROLL:
        if not sequence:
            raise FieldError("sequence", "Choose the sequence to enroll the leads in.")
        name = catalog.get(sequence.strip()).name  # NotFoundError with "did you mean"
        return lambda session, lead: lead_actions.enroll(session, catalog, lead, name, at=at, by=by)
    if action == PAUSE:
        if until is not None and until <= at:
            raise FieldError("until", "The date to resume on is not in the future.")
        return lambda session, lead: lead_actions.pause(session, lead, at=at, by=by, until=until)
    raise FieldError("action", f"Unknown bulk action {action!r} — use {', '.join(BULK_ACTIONS)}.")


def _open_enrollments(session: Session, leads: list[Lead]) -> dict[int, list[Enrollment]]:
    """Each lead's open enrollments, read at once."""
    enrollments: dict[int, list[Enrollment]] = {lead.id: [] for lead in leads}
    query = (
        select(Enrollment)
        .where(
            Enrollment.lead_id.in_(list(enrollments)),
            Enrollment.status.in_(OPEN_ENROLLMENT_STATUSES),
        )
        .order_by(Enrollment.id)
    )
    for enrollment in session.scalars(query):
        enrollments[enrollment.lead_id].append(enrollment)
    return enrollments


def _pause_chunk(
    session: Session, leads: list[Lead], *, at: datetime, by: str | None, until: datetime | None
) -> Action:
    """``pause`` for the leads of a chunk, their open enrollments and tasks read at once."""
    enrollments = _open_enrollments(session, leads)
    tasks = open_tasks(session, [e.id for found in enrollments.values() for e in found])
    return lambda session, lead: lead_actions.pause_enrolled(
        session, lead, enrollments[lead.id], at=at, by=by, until=until, tasks=tasks
    )


def _enroll_chunk(
    session: Session,
    catalog: Catalog,
    sequence: str,
    leads: list[Lead],
    done: BulkOutcome,
    *,
    at: datetime,
    by: str | None,
) -> None:
    """``enroll`` for the leads of a chunk with the same checks (``check_enrollable``) and
    moves (stop the open sequence, reactivate, enroll), each done for all of them at once:
    a few statements per chunk instead of a dozen per lead."""
    spec = catalog.get(sequence.strip())
    cause = cause_of(by)
    open_now = _open_enrollments(session, leads)
    earlier = select(Enrollment.lead_id, Enrollment.status).where(
        Enrollment.lead_id.in_(list(open_now)), Enrollment.sequence == spec.name
    )
    before = {row.lead_id: row.status for row in session.execute(earlier)}
    suppressed = suppressed_values(session, [lead.email for lead in leads])
    admitted: list[Lead] = []
    for lead in leads:
        try:
            already = lead_actions.check_enrollable(
                lead,
                spec.name,
                open_now[lead.id],
                before.get(lead.id),
                suppressed=lead.email in suppressed,
            )
        except RefusedError as exc:
            done.skip(exc.why)
            continue
        if already is not None:
            done.unchanged += 1
        else:
            admitted.append(lead)
    if not admitted:
        return
    stopping = [e for lead in admitted for e in open_now[lead.id]]
    tasks = open_tasks(session, [e.id for e in stopping])
    lifecycle.stop(session, stopping, at=at, cause=cause, tasks=tasks)
    for lead in admitted:
        if lead.status in lead_actions.REACTIVATED:
            lead.status = LeadStatus.ACTIVE
        lead.updated_at = at
    session.flush()
    events.flush_buffered(session)  # the stops before the enrollments, as for one lead
    result = enroll_many(session, admitted, spec, at=at, cause=cause, schedules=catalog.schedules)
    done.done += result.enrolled
    for why, count in result.skipped.items():
        done.skipped[why] = done.skipped.get(why, 0) + count
    if result.enrolled < len(admitted):  # one left with no sequence is settled
        for lead in admitted:
            lifecycle.settle_status(session, lead, at)


def _chunks(
    sessions: sessionmaker[Session],
    lead_filter: LeadFilter,
    ids: Collection[int] | None,
    size: int,
) -> Iterator[list[int]]:
    """The ids of the matching leads (among ``ids``, when given), ``size`` at a time, each
    chunk read after the last one: a lead the action takes out of the filter (a pause of the
    active ones) is never read twice, and one it brings in is met once at most."""
    conditions = lead_filter.conditions()
    if ids is not None:
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), size):
            window = wanted[start : start + size]
            with sessions() as session:
                query = select(Lead.id).where(*conditions, Lead.id.in_(window))
                found = list(session.scalars(query.order_by(Lead.id)))
            if found:
                yield found
        return
    last = 0
    while True:
        with sessions() as session:
            query = select(Lead.id).where(*conditions, Lead.id > last)
            found = list(session.scalars(query.order_by(Lead.id).limit(size)))
        if not found:
            return
        yield found
        last = found[-1]


def export_csv(
    sessions: sessionmaker[Session],
    lead_filter: LeadFilter,
    *,
    ids: Collection[int] | None = None,
    chunk: int = CHUNK,
) -> Iterator[str]:
    """The matching leads as CSV text, a header then a chunk of rows at a time: the
    import's columns (email, names, company, stage, time zone, country, deal value, owner)
    and every custom field any of them has, so ``outreach leads import`` reads it back."""
    custom: set[str] = set()
    for chunk_ids in _chunks(sessions, lead_filter, ids, chunk):
        with sessions() as session:
            for fields in session.scalars(select(Lead.fields).where(Lead.id.in_(chunk_ids))):
                custom.update(key for key in fields or {} if key not in _NOT_CUSTOM)
    columns = [*EXPORT_COLUMNS, *sorted(custom)]
    yield _csv_line(columns)
    for chunk_ids in _chunks(sessions, lead_filter, ids, chunk):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        with sessions() as session:
            for lead in session.scalars(
                select(Lead).where(Lead.id.in_(chunk_ids)).order_by(Lead.id)
            ):
                writer.writerow([_cell(lead, column) for column in columns])
        yield buffer.getvalue()


def _cell(lead: Lead, column: str) -> str:
    if column in EXPORT_COLUMNS:
        value = getattr(lead, column)
        if column == "deal_value" and value is not None:
            return f"{value:.2f}".removesuffix(".00")
    else:
        value = (lead.fields or {}).get(column)
    return "" if value is None else str(value)


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


__all__ = [
    "ASSIGN",
    "BULK_ACTIONS",
    "ENROLL",
    "EXPORT_COLUMNS",
    "PAUSE",
    "BulkOutcome",
    "apply_to_leads",
    "export_csv",
]
