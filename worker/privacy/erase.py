"""Erasing a person on request (``outreach leads erase``; the lead page, for admins).

In one transaction:

1. every row held about them goes (``worker.privacy.holdings``): the lead, its enrollments,
   touches with their bodies, events, review items, clicks, scores, inbound messages from or
   matched to them with the raw mail, their suppression entry, the report's rollup rows of
   the lead, and whatever points at those;
2. other rows that mention them (another lead's referral, a colleague's reply, a rep's note)
   have the address, the name and their identifiers replaced by ``[erased]``; the raw mail of
   such a message is cleared (its parsed text, scrubbed, stays);
3. the hash of the address goes on the suppression list (``sha256:…``), so an import, a
   capture form or a send to the address is refused from now on;
4. an ``erasures`` row and a ``lead_erased`` event say that an erasure happened, when and by
   whom, and how many rows went — with no personal data.

The report's daily counters are numbers with no person in them; they keep what the lead
added to them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from worker.errors import FieldError
from worker.leads.addresses import erased_key, normalise_email
from worker.privacy import holdings, mentions
from worker.privacy.holdings import LEAD_KEY, Holdings
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Erasure, InboundMessage, Suppression
from worker.vocabulary import EventKind

log = logging.getLogger(__name__)
REASON = "erasure"
_INBOUND = InboundMessage.__tablename__


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure did: rows deleted and rows scrubbed, per table."""

    erasure_id: int
    address_hash: str
    had_lead: bool
    deleted: dict[str, int]
    scrubbed: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "erasure_id": self.erasure_id,
            "address_hash": self.address_hash,
            "had_lead": self.had_lead,
            "deleted": self.deleted,
            "scrubbed": self.scrubbed,
        }


def address_of(raw: str) -> str:
    """The normalised address of a request; FieldError when it is not an address."""
    try:
        return normalise_email(raw)
    except ValueError as exc:
        raise FieldError("email", f"{exc} — give the person's email address") from None


def erase(session: Session, email: str, *, at: datetime, by: str) -> ErasureReport:
    """Erase everything held about the person with address ``email`` (see the module)."""
    address = address_of(email)
    held = holdings.find(session, address)
    lead_row = held.of("leads")[0] if held.lead_id is not None else None
    matcher_terms = mentions.terms(session, address, lead_row)
    deleted = _delete(session, held)
    scrubbed = _scrub(session, held, matcher_terms, at)
    hashed = erased_key(address)
    session.execute(
        dialect_insert(session, Suppression)
        .values(value=hashed, reason=REASON, created_at=at)
        .on_conflict_do_nothing(index_elements=["value"])
    )
    counts = {"deleted": deleted, "scrubbed": scrubbed}
    erasure = Erasure(at=at, erased_by=by, address_hash=hashed, counts=counts)
    session.add(erasure)
    session.flush()
    events.record(
        session,
        EventKind.LEAD_ERASED,
        at=at,
        lead_id=None,
        cause=f"rep: {by}",
        erasure=erasure.id,
        rows=sum(deleted.values()),
    )
    log.info(
        "erasure %r: %d rows deleted, %d scrubbed",
        erasure.id,
        sum(deleted.values()),
        sum(scrubbed.values()),
    )
    return ErasureReport(erasure.id, hashed, held.lead_id is not None, deleted, scrubbed)


def _delete(session: Session, held: Holdings) -> dict[str, int]:
    """Delete the person's rows, children before parents; the count per table."""
    deleted: dict[str, int] = {}
    for table in reversed(holdings.tables()):
        keys = list(held.rows.get(table.name, {}))
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            session.execute(delete(table).where(holdings.key_condition(table, chunk)))
        if keys:
            deleted[table.name] = len(keys)
    if held.lead_id is not None:  # marks the report's triggers wrote as rows went
        for table in holdings.lead_tables():
            session.execute(delete(table).where(table.c[LEAD_KEY] == held.lead_id))
    return dict(sorted(deleted.items()))


def _scrub(session: Session, held: Holdings, terms: list[str], at: datetime) -> dict[str, int]:
    """Replace every mention in other rows; the count of rows changed per table."""
    matcher = mentions.pattern(terms)
    scrubbed: dict[str, int] = {}
    for found in list(mentions.find(session, held, terms)):
        values = {name: mentions.scrubbed(matcher, found.row[name]) for name in found.columns}
        if found.table.name == _INBOUND:  # raw mail may hold encoded copies: clear it
            values.update(raw=b"", raw_cleared_at=at)
        session.execute(
            update(found.table)
            .where(holdings.key_condition(found.table, [found.key]))
            .values(values)
        )
        scrubbed[found.table.name] = scrubbed.get(found.table.name, 0) + 1
    return dict(sorted(scrubbed.items()))


__all__ = ["REASON", "ErasureReport", "address_of", "erase"]
