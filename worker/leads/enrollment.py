"""Enrolling leads into sequences and finishing enrollments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from worker.authoring.schedules import Schedules
from worker.authoring.schema import SequenceSpec
from worker.leads.addresses import suppressed_values
from worker.mailboxes.pools import choose_mailboxes
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Enrollment, Lead
from worker.timing.windows import due_at
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
    if not leads:
        return result
    ids = [lead.id for lead in leads]
    busy = {
        row.lead_id: row.sequence
        for row in session.execute(
            select(Enrollment.lead_id, Enrollment.sequence).where(
                Enrollment.lead_id.in_(ids),
                or_(
                    Enrollment.status.in_(OPEN_ENROLLMENT_STATUSES),
                    Enrollment.sequence == spec.name,
                ),
            )
        )
    }
    blocked = suppressed_values(session, [lead.email for lead in leads])
    pooled = choose_mailboxes(session, leads, spec.mailbox)  # empty unless it names a pool
    rows = []
    for lead in leads:
        if lead.status in BLOCKING_LEAD_STATUSES or lead.email in blocked:
            result.skip("suppressed")
        elif lead.stage in FINAL_STAGES:
            result.skip(f"stage {lead.stage}")
        elif lead.id in busy:
            result.skip(
                "already in this sequence" if busy[lead.id] == spec.name else "in another sequence"
            )
        else:
            first_due = due_at(
                schedules or Schedules(),
                spec.schedule,
                at,
                spec.steps[0].wait,
                timezone=lead.timezone,
                country=lead.country,
                lead_id=lead.id,
                sequence=spec.name,
                step_index=0,
            )
            rows.append(
                {
                    "lead_id": lead.id,
                    "sequence": spec.name,
                    "mailbox": pooled.get(lead.id, spec.mailbox),
                    "status": EnrollmentStatus.ACTIVE,
                    "current_step": 0,
                    "next_due_at": first_due,
                    "enrolled_at": at,
                }
            )
    if not rows:
        return result
    stmt = (
        dialect_insert(session, Enrollment)
        .on_conflict_do_nothing(index_elements=["lead_id", "sequence"])
        .returning(Enrollment.lead_id)
    )
    enrolled_ids = list(session.scalars(stmt, rows))
    result.enrolled = len(enrolled_ids)
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
