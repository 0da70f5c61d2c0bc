"""What happens when a sequence ran out of touches without a reply (``on_complete``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from worker.authoring.schema import SequenceSpec
from worker.leads.enrollment import enroll_leads
from worker.leads.stages import change_stage, next_stage
from worker.runtime import Runtime
from worker.store import events
from worker.store.models import Enrollment, Lead
from worker.vocabulary import EnrollmentStatus, EventKind, LeadStatus, Stage


def complete_enrollment(
    session: Session, runtime: Runtime, enrollment: Enrollment, spec: SequenceSpec, *, at: datetime
) -> None:
    """Finish ``enrollment`` and apply the sequence's ``on_complete`` action."""
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.next_due_at = None
    enrollment.finished_at = at
    lead = session.get(Lead, enrollment.lead_id)
    assert lead is not None
    action = spec.on_complete.action
    events.record(
        session,
        EventKind.SEQUENCE_COMPLETED,
        at=at,
        lead_id=lead.id,
        sequence=spec.name,
        cause="no_reply",
        action=action,
    )
    if lead.status != LeadStatus.ACTIVE:
        return
    if action == "lost":
        change_stage(session, lead, Stage.LOST, at=at, cause=f"{spec.name}: no reply")
        lead.status = LeadStatus.STOPPED
        return
    if action == "stop":
        lead.status = LeadStatus.COMPLETED
        lead.updated_at = at
        return
    if action == "advance":
        target_stage = next_stage(spec.stage)
        change_stage(session, lead, target_stage, at=at, cause=f"{spec.name}: completed")
        target = runtime.catalog.for_stage(target_stage)
    else:
        assert spec.on_complete.sequence is not None
        loaded = runtime.catalog.sequences.get(spec.on_complete.sequence)
        target = loaded.spec if loaded is not None else None
    if target is None:
        lead.status = LeadStatus.COMPLETED
        return
    session.flush()
    result = enroll_leads(
        session,
        [lead],
        target,
        at=at,
        cause=f"{spec.name}: on_complete",
        schedules=runtime.catalog.schedules,
    )
    if not result.enrolled:
        lead.status = LeadStatus.COMPLETED
