"""A rep's answer to "Accept as SQL?": accept (an SQL, on to sales) or reject (to nurture).

Accepting makes the lead an SQL (``qualification`` ``sql``, ``sql_at``), gives it an owner
(the rep who accepted it, else the item's assignee) and moves a lead still in prospecting or
qualification to the stage after qualification (consideration): a sales-accepted lead is past
qualifying. Its open sequences stop and it is enrolled in the new stage's sequence, as the
``advance`` action does; a lead already further along keeps its stage and sequence.
``sql_accepted`` records the answers.

Rejecting sends the lead back to nurture (``qualification`` ``nurture``) with a reason from a
fixed list; ``sql_rejected`` records it (``cause``: the reason). A sequence named
``nurture`` in ``sequences/``, if there is one, takes the lead (its other sequences stop);
without one the lead keeps what it was doing and is no longer asked about (see
``acceptance.wants_acceptance``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from worker.authoring.schema import SequenceSpec
from worker.authoring.sequences import Catalog
from worker.errors import OutreachError
from worker.leads import lifecycle
from worker.leads.stages import change_stage
from worker.qualification.answers import Acceptance, Rejection
from worker.store import events
from worker.store.models import Lead, ReviewItem
from worker.vocabulary import EventKind, LeadStatus, Qualification, ReviewReason, Stage

NURTURE_SEQUENCE = "nurture"
# Where an accepted lead goes when it is not past qualification yet.
SQL_STAGE = Stage.CONSIDERATION
_BEFORE_SQL = (Stage.PROSPECTING, Stage.QUALIFICATION)


def check_item(item: ReviewItem, action: str) -> None:
    """Accept and reject answer acceptance items only."""
    if item.reason != ReviewReason.SALES_ACCEPTANCE:
        raise OutreachError(
            f"Review item {item.id} is a {item.reason} item, not 'Accept as SQL?'; "
            f"{action} applies only to sales_acceptance items."
        )


def accept(
    session: Session,
    catalog: Catalog,
    item: ReviewItem,
    lead: Lead,
    answers: Acceptance,
    *,
    at: datetime,
    by: str | None,
) -> None:
    """Make ``lead`` an SQL (see the module's docstring)."""
    lead.qualification = Qualification.SQL
    lead.sql_at = at
    if lead.mql_at is None:
        lead.mql_at = at
    owner = by or item.assignee
    if owner:
        lead.owner = owner[:100]
    lead.updated_at = at
    previous = lead.stage
    if lead.stage in _BEFORE_SQL:
        change_stage(session, lead, SQL_STAGE, at=at, cause="rep: accept-sql")
        _move_to(session, catalog, lead, catalog.for_stage(SQL_STAGE), at, "accept-sql")
    events.record(
        session,
        EventKind.SQL_ACCEPTED,
        at=at,
        lead_id=lead.id,
        cause="rep",
        item=item.id,
        by=by,
        owner=lead.owner,
        previous_stage=previous,
        stage=lead.stage,
        score=lead.score,
        **answers.as_dict(),
    )


def reject(
    session: Session,
    catalog: Catalog,
    item: ReviewItem,
    lead: Lead,
    answers: Rejection,
    *,
    at: datetime,
    by: str | None,
) -> None:
    """Send ``lead`` back to nurture with the reason (see the module's docstring)."""
    lead.qualification = Qualification.NURTURE
    lead.updated_at = at
    nurture = catalog.get(NURTURE_SEQUENCE) if NURTURE_SEQUENCE in catalog else None
    if nurture is not None:
        _move_to(session, catalog, lead, nurture, at, "reject-sql")
    events.record(
        session,
        EventKind.SQL_REJECTED,
        at=at,
        lead_id=lead.id,
        cause=answers.reason,
        item=item.id,
        by=by,
        note=answers.note,
        score=lead.score,
        nurture_sequence=nurture.name if nurture is not None else None,
    )


# A rep decided: the lead goes on in its new sequence whatever it was waiting for.
_DECIDED = (
    LeadStatus.ACTIVE,
    LeadStatus.PAUSED,
    LeadStatus.NEEDS_REVIEW,
    LeadStatus.COMPLETED,
    LeadStatus.STOPPED,
)


def _move_to(
    session: Session,
    catalog: Catalog,
    lead: Lead,
    target: SequenceSpec | None,
    at: datetime,
    action: str,
) -> None:
    """Stop the lead's open sequences and enroll it in ``target`` (none: only stop); an
    address that is suppressed or bounced is never enrolled."""
    lifecycle.move_to_sequence(
        session,
        lead,
        target,
        at=at,
        cause=f"rep: {action}",
        schedules=catalog.schedules,
        reactivate=_DECIDED,
    )


__all__ = ["NURTURE_SEQUENCE", "SQL_STAGE", "accept", "check_item", "reject"]
