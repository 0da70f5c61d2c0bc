"""Whose work a list shows: "mine" (the default), "unassigned" or "all" — the review queue by
assignee, the leads by owner — and how many each choice holds.

The counts stop at a bound (``COUNT_AT_MOST``), each read through the index on
``review_items.assignee`` or ``leads.owner``, so the badges stay quick however long the lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from worker.store.models import Lead, ReviewItem

MINE, UNASSIGNED, ALL = "mine", "unassigned", "all"
WHO = (MINE, UNASSIGNED, ALL)
COUNT_AT_MOST = 999


@dataclass(frozen=True)
class Count:
    """How many a choice holds: exact up to the bound, else ``n`` is the bound."""

    n: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.n:,}" if self.exact else f"{self.n:,}+"


def who_asked(value: str | None) -> str:
    """The choice a URL's ``who`` asks for; "mine" when it asks for none (or nonsense)."""
    return value if value in WHO else MINE


def queue_counts(session: Session, rep: str) -> dict[str, Count]:
    """Open review items assigned to ``rep``, to nobody, and to anyone."""
    is_open = ReviewItem.resolved_at.is_(None)
    return {
        MINE: _count(session, ReviewItem.id, is_open, ReviewItem.assignee == rep),
        UNASSIGNED: _count(session, ReviewItem.id, is_open, ReviewItem.assignee.is_(None)),
        ALL: _count(session, ReviewItem.id, is_open),
    }


def lead_counts(session: Session, rep: str) -> dict[str, Count]:
    """Leads owned by ``rep``, by nobody, and all leads."""
    return {
        MINE: _count(session, Lead.id, Lead.owner == rep),
        UNASSIGNED: _count(session, Lead.id, Lead.owner.is_(None)),
        ALL: _count(session, Lead.id),
    }


def _count(session: Session, key: Any, *where: ColumnElement[bool]) -> Count:
    rows: Select[Any] = select(key).where(*where).limit(COUNT_AT_MOST + 1)
    n = int(session.scalar(select(func.count()).select_from(rows.subquery())) or 0)
    return Count(min(n, COUNT_AT_MOST), n <= COUNT_AT_MOST)


__all__ = ["ALL", "MINE", "UNASSIGNED", "WHO", "Count", "lead_counts", "queue_counts", "who_asked"]
