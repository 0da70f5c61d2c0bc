"""The other leads of the same company: by the email's domain, or by the company field.

A public mailbox provider's domain (gmail.com, gmx.de …) says nothing about a company, so it
never makes two leads colleagues; neither does an empty company field.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.leads.addresses import domain_of
from worker.store.models import Lead
from worker.vocabulary import LeadStatus

PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "aol.com", "bluewin.ch", "freenet.de", "gmail.com", "gmx.at", "gmx.ch", "gmx.de",
        "gmx.net", "googlemail.com", "hotmail.com", "icloud.com", "live.com", "mail.de",
        "me.com", "outlook.com", "proton.me", "protonmail.com", "t-online.de", "web.de",
        "yahoo.com", "yahoo.de",
    }
)  # fmt: skip
MATCHES = ("domain", "company")
IN_MOTION = (LeadStatus.ACTIVE, LeadStatus.PAUSED, LeadStatus.NEEDS_REVIEW)


def colleagues(session: Session, lead: Lead, match: str = "domain") -> list[Lead]:
    """The leads in motion (active, paused, in review) at ``lead``'s company, oldest first."""
    query = select(Lead).where(Lead.id != lead.id, Lead.status.in_(IN_MOTION)).order_by(Lead.id)
    if match == "company":
        name = (lead.company or "").strip().lower()
        if not name:
            return []
        query = query.where(func.lower(func.trim(Lead.company)) == name)
    else:
        domain = domain_of(lead.email)
        if domain in PUBLIC_MAIL_DOMAINS:
            return []
        query = query.where(Lead.email.endswith("@" + domain, autoescape=True))
    return list(session.scalars(query))


__all__ = ["MATCHES", "PUBLIC_MAIL_DOMAINS", "colleagues"]
