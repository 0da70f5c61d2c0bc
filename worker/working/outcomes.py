"""What every action on a lead shares: finding the lead, the cause its events carry, and the
``Outcome`` it returns."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from worker.errors import NotFoundError
from worker.queries.leads import find_lead as find_by_email
from worker.store.models import Lead


@dataclass(frozen=True)
class Outcome:
    """What an action did to a lead: ``changed`` is False when the lead was that way
    already; ``message`` is one line for a rep."""

    lead_id: int
    changed: bool
    message: str
    email: str = ""


def outcome(lead: Lead, changed: bool, message: str) -> Outcome:
    return Outcome(lead.id, changed, message, lead.email)


def cause_of(by: str | None) -> str:
    """The cause of a rep's event: ``rep: NAME`` (``rep`` when nobody is named)."""
    return f"rep: {by}" if by else "rep"


def find_lead(session: Session, email_or_id: str) -> Lead:
    """The lead with this address (any case, spaces around it) or id; NotFoundError."""
    text = str(email_or_id).strip()
    if text.isdigit():
        lead = session.get(Lead, int(text))
        if lead is None:
            raise NotFoundError(f"No lead with id {text} — see 'outreach leads list'.")
        return lead
    return find_by_email(session, text)


__all__ = ["Outcome", "cause_of", "find_lead", "outcome"]
