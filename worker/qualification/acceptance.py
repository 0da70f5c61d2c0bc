"""Opening "Accept as SQL?": one review item per lead that a rep answers.

The scoring engine opens one when a lead's score crosses ``sql_candidate``; a positive reply
opens one for a lead with a score (``worker.inbound.reactions``), in place of the plain
hot-lead flag. Opening makes the lead an MQL (``qualification`` ``mql`` and ``mql_at``) if it
was none yet. A lead never has two open acceptance items: a partial unique index
(``uq_review_open_acceptance``) holds that across processes, and the loser of a race finds
the winner's item.

Which leads get one: not an SQL already; a lead a rep sent back to nurture only when the
person wrote back themselves (``cause`` starting ``reply``): a score rising again is the
same evidence the rep already judged, a reply is new.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.leads.ownership import assign_to_owner
from worker.store import events
from worker.store.models import Lead, ReviewItem
from worker.vocabulary import EventKind, LeadStatus, Qualification, ReviewAction, ReviewReason

log = logging.getLogger(__name__)

QUESTION = "Accept as SQL?"
# An acceptance item sorts with hot leads: a person is waiting to hear from sales.
PRIORITY = 10
_REVIEWABLE = (LeadStatus.ACTIVE, LeadStatus.PAUSED, LeadStatus.COMPLETED)


def wants_acceptance(lead: Lead, cause: str) -> bool:
    """Whether ``lead`` should be asked about (see the module's docstring)."""
    if lead.qualification == Qualification.SQL:
        return False
    if lead.qualification == Qualification.NURTURE:
        return cause.startswith("reply")
    return True


def open_item(session: Session, lead_id: int) -> int | None:
    """The id of the lead's open acceptance item, if it has one."""
    return session.scalar(
        select(ReviewItem.id).where(
            ReviewItem.lead_id == lead_id,
            ReviewItem.reason == ReviewReason.SALES_ACCEPTANCE,
            ReviewItem.resolved_at.is_(None),
        )
    )


def open_acceptance(
    session: Session,
    lead: Lead,
    at: datetime,
    cause: str,
    *,
    detail: str | None = None,
    priority: int = PRIORITY,
    touch_id: int | None = None,
    inbound_id: int | None = None,
    needs_review: bool = False,
) -> int | None:
    """Open "Accept as SQL?" for ``lead`` (or find the one open); return its id, or None when
    the lead is not to be asked (an SQL, or back in nurture without a reply).

    ``cause``: why (``score: sql_candidate``, ``reply: positive``), recorded on the flag.
    ``needs_review``: the lead waits for the rep (a reply); False keeps its sequence going
    while the rep decides (a score crossing).
    """
    if not wants_acceptance(lead, cause):
        return None
    if lead.qualification is None:
        lead.qualification = Qualification.MQL
    if lead.mql_at is None:
        lead.mql_at = at
    found = open_item(session, lead.id)
    if found is None:
        item = ReviewItem(
            lead_id=lead.id,
            touch_id=touch_id,
            inbound_id=inbound_id,
            reason=ReviewReason.SALES_ACCEPTANCE,
            detail=f"{QUESTION} {detail}" if detail else f"{QUESTION} ({cause})",
            priority=priority,
            suggested_action=ReviewAction.ACCEPT_SQL,
            created_at=at,
        )
        try:
            with session.begin_nested():
                session.add(item)
                session.flush()
            found = item.id
            assign_to_owner(session, item, lead.owner, at=at)
        except IntegrityError:
            # Another transaction opened it meanwhile (PostgreSQL waits for it to commit).
            found = open_item(session, lead.id)
            log.info("acceptance item of lead %r was opened concurrently", lead.id)
            if found is None:
                raise
    else:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == found, ReviewItem.priority < priority)
            .values(priority=priority)
        )
    if needs_review and lead.status in _REVIEWABLE:
        lead.status = LeadStatus.NEEDS_REVIEW
    lead.updated_at = at
    events.record(
        session,
        EventKind.FLAGGED,
        at=at,
        lead_id=lead.id,
        touch_id=touch_id,
        cause=ReviewReason.SALES_ACCEPTANCE,
        detail=cause,
        inbound_id=inbound_id,
        item=found,
    )
    return found


__all__ = ["PRIORITY", "QUESTION", "open_acceptance", "open_item", "wants_acceptance"]
