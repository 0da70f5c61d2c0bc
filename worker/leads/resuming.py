"""Resume enrollments paused until a date (an out-of-office reply's return date)."""

from __future__ import annotations

from sqlalchemy import select

from worker.leads import lifecycle
from worker.runtime import Runtime
from worker.store.dialect import is_postgres
from worker.store.models import Enrollment, Lead
from worker.vocabulary import EnrollmentStatus, LeadStatus


def resume_due(runtime: Runtime) -> int:
    """Resume every enrollment whose ``resume_at`` has come; return how many resumed.

    Only a lead that is merely paused resumes; a lead a rep is looking at stays with the rep.
    """
    now = runtime.clock.now()
    resumed = 0
    with runtime.sessions.begin() as session:
        query = (
            select(Enrollment)
            .where(Enrollment.status == EnrollmentStatus.PAUSED, Enrollment.resume_at <= now)
            .order_by(Enrollment.resume_at, Enrollment.id)
            .limit(runtime.settings.tick_batch_size)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        for enrollment in session.scalars(query):
            lead = session.get(Lead, enrollment.lead_id)
            if lead is None or lead.status not in (LeadStatus.PAUSED, LeadStatus.ACTIVE):
                enrollment.resume_at = None
                continue
            lifecycle.resume(session, [enrollment], at=now, cause="return date reached")
            lead.status = LeadStatus.ACTIVE
            lead.updated_at = now
            resumed += 1
    return resumed
