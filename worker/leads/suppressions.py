"""The suppression list: addresses and whole domains that are never mailed again.

Values are stored normalised: an address in lower case (``ada@northwind.test``), a domain
without a leading ``@`` (``northwind.test``; the send-time check also honours ``@domain``
rows written by older versions). A domain covers that exact domain, not its subdomains.
Adding a value stops the open sequences of every lead it covers at once; the atomic check at
send time blocks them in any case. Removing a value (a mistaken entry) is recorded, and leads
it stopped stay stopped until someone enrolls them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from worker.clock import iso
from worker.errors import NotFoundError
from worker.leads import lifecycle
from worker.leads.addresses import covered_by, is_erased_key, kind_of, normalise_email
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Lead, Suppression
from worker.vocabulary import EventKind, LeadStatus

MAX_REASON_CHARS = 64
DEFAULT_REASON = "manual"
# A suppression changes what happens to a lead that is still in motion.
_MOVING = (LeadStatus.ACTIVE, LeadStatus.PAUSED, LeadStatus.NEEDS_REVIEW)
_FINAL = (LeadStatus.UNSUBSCRIBED, LeadStatus.BOUNCED)
# The lead status a suppression reason gives (else ``stopped``).
_LEAD_STATUS = {"unsubscribe": LeadStatus.UNSUBSCRIBED, "bounce": LeadStatus.BOUNCED}
_HINT = "write an address (ada@example.test), a domain (example.test) or @example.test"


@dataclass(frozen=True)
class Added:
    """The outcome of adding one value."""

    value: str
    added: bool
    stopped_leads: int


@dataclass(frozen=True)
class Unsubscribed:
    """The outcome of a lead's unsubscribe request."""

    lead_id: int
    email: str
    already: bool


def normalise_value(raw: str) -> str:
    """An address or a domain as stored; ValueError saying what to write instead."""
    text = raw.strip().strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    if not text:
        raise ValueError(f"the value is empty — {_HINT}")
    if is_erased_key(text.lower()):  # an erased person's hash, as exported
        return text.lower()
    if text.startswith("@"):
        return _domain(text[1:], raw)
    if "@" in text:
        try:
            return normalise_email(text)
        except ValueError:
            raise ValueError(f"{raw.strip()!r} is not a valid address — {_HINT}") from None
    return _domain(text, raw)


def _domain(text: str, raw: str) -> str:
    domain = text.strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(
                f"{raw.strip()!r} is not a valid address or domain — {_HINT}"
            ) from None
    if "@" in domain or len(domain) > 253:
        raise ValueError(f"{raw.strip()!r} is not a valid address or domain — {_HINT}")
    try:
        normalise_email(f"x@{domain}")
    except ValueError:
        raise ValueError(f"{raw.strip()!r} is not a valid address or domain — {_HINT}") from None
    return domain


def normalise_reason(raw: str | None, default: str = DEFAULT_REASON) -> str:
    """A short one-line reason; ValueError when it is too long."""
    reason = " ".join((raw or "").split()) or default
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"the reason is longer than {MAX_REASON_CHARS} characters — shorten it")
    return reason


def add(
    session: Session,
    value: str,
    *,
    reason: str,
    at: datetime,
    created_at: datetime | None = None,
    record: bool = True,
) -> Added:
    """Suppress a normalised ``value`` (idempotent) and stop the leads it covers."""
    stmt = (
        dialect_insert(session, Suppression)
        .on_conflict_do_nothing(index_elements=["value"])
        .values(value=value, reason=reason, created_at=created_at or at)
        .returning(Suppression.id)
    )
    added = session.execute(stmt).first() is not None
    if added and record:
        events.record(
            session, EventKind.SUPPRESSION_ADDED, at=at, lead_id=None, cause=reason, value=value
        )
    return Added(value, added, stop_covered_leads(session, value, reason=reason, at=at))


def stop_covered_leads(session: Session, value: str, *, reason: str, at: datetime) -> int:
    """Stop the open sequences of every lead in motion that ``value`` covers; how many."""
    leads = session.scalars(select(Lead).where(covered_by(value), Lead.status.not_in(_FINAL))).all()
    stopped = 0
    for lead in leads:
        enrollments = lifecycle.open_enrollments(session, lead.id)
        if not enrollments and lead.status not in _MOVING:
            continue
        lifecycle.stop(session, enrollments, at=at, cause=f"suppressed: {reason}")
        lead.status = _LEAD_STATUS.get(reason, LeadStatus.STOPPED)
        lead.updated_at = at
        events.record(
            session, EventKind.SUPPRESSED, at=at, lead_id=lead.id, cause=reason, value=value
        )
        stopped += 1
    return stopped


def remove(session: Session, value: str, *, at: datetime, note: str | None = None) -> list[str]:
    """Take a mistaken value off the list (for a domain also its ``@domain`` form); recorded."""
    values = [value] if kind_of(value) != "domain" else [value, "@" + value]
    found = session.execute(
        select(Suppression.value, Suppression.reason).where(Suppression.value.in_(values))
    ).all()
    if not found:
        raise NotFoundError(
            f"{value!r} is not on the suppression list — see 'outreach suppressions list'."
        )
    session.execute(delete(Suppression).where(Suppression.value.in_(values)))
    lead_id = None
    if kind_of(value) == "address":
        lead_id = session.scalar(select(Lead.id).where(Lead.email == value))
    for row in found:
        events.record(
            session,
            EventKind.SUPPRESSION_REMOVED,
            at=at,
            lead_id=lead_id,
            cause="manual",
            value=row.value,
            reason=row.reason,
            note=note,
        )
    return [row.value for row in found]


def entries(session: Session) -> Iterator[dict[str, Any]]:
    """Every entry, by value, streamed: ``{"value", "kind", "reason", "created_at"}``."""
    stmt = select(Suppression).order_by(Suppression.value).execution_options(yield_per=500)
    for row in session.scalars(stmt):
        yield {
            "value": row.value,
            "kind": kind_of(row.value),
            "reason": row.reason,
            "created_at": iso(row.created_at),
        }


def unsubscribe(session: Session, lead_id: int, *, at: datetime, cause: str) -> Unsubscribed | None:
    """Honour a lead's unsubscribe request (idempotent); None when there is no such lead.

    The address is suppressed, open sequences stop, the lead becomes ``unsubscribed`` and an
    ``unsubscribed`` event records ``cause`` ("one-click", "web", "mailto").
    """
    lead = session.get(Lead, lead_id, with_for_update=True)
    if lead is None:
        return None
    enrollments = lifecycle.open_enrollments(session, lead.id)
    listed = session.scalar(select(Suppression.id).where(Suppression.value == lead.email))
    if lead.status == LeadStatus.UNSUBSCRIBED and listed is not None and not enrollments:
        return Unsubscribed(lead.id, lead.email, already=True)
    lifecycle.suppress(session, lead.email, reason="unsubscribe", at=at)
    lifecycle.stop(session, enrollments, at=at, cause=f"unsubscribe: {cause}")
    lead.status = LeadStatus.UNSUBSCRIBED
    lead.updated_at = at
    events.record(session, EventKind.UNSUBSCRIBED, at=at, lead_id=lead.id, cause=cause)
    return Unsubscribed(lead.id, lead.email, already=False)


def masked(email: str) -> str:
    """``ada@northwind.test`` → ``a***@northwind.test``: recognisable, not readable."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


__all__ = [
    "DEFAULT_REASON",
    "Added",
    "Unsubscribed",
    "add",
    "entries",
    "kind_of",
    "masked",
    "normalise_reason",
    "normalise_value",
    "remove",
    "stop_covered_leads",
    "unsubscribe",
]
