"""What the learned score reads about a lead, as of a cut-off time: a small named vector.

Fit: country, industry, title keywords, team size bucket, free-mail or company address, and
any short custom field (the trainer keeps those with few values). Engagement before the
cut-off: replies by intent, counted clicks, website/webinar activities by type, logged calls
by outcome, emails sent. A decided lead's cut-off is the time it became won or lost: nothing
that happened after its decision is read (the decision itself must not be learned from).

Each feature is a name and a number: 1.0 for a category (``country=DE``, ``title:vp``) and
``log2(1 + n)`` for a count (``activity:pricing_page``: 1 for one visit, 2 for three). Rows
are read for many leads at once in three set-based queries (leads, event counts, clicks).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Subquery, and_, func, literal, select
from sqlalchemy.orm import Session

from worker.leads.colleagues import PUBLIC_MAIL_DOMAINS
from worker.store.models import Click, Event, Lead, UTCDateTime
from worker.vocabulary import FINAL_STAGES, EventKind, Stage

Features = dict[str, float]

# Standard fields read as fit features of their own; other custom fields become
# ``field:NAME=value`` (short values only; the trainer keeps fields with few values).
TITLE_FIELDS = ("title", "job_title", "position", "role")
INDUSTRY_FIELDS = ("industry", "sector")
SIZE_FIELDS = ("employees", "team_size", "company_size", "headcount")
_NOT_CUSTOM = frozenset(
    {*TITLE_FIELDS, *INDUSTRY_FIELDS, *SIZE_FIELDS, "language", "currency", "phone", "linkedin"}
)
MAX_CUSTOM_VALUE = 40  # longer values are free text, not a category
# Fields are read as they are now, not as of the decision: a field a rep fills in when a lead
# is won or lost (``lost_reason``, ``outcome``) would teach the model the answer. Left out.
OUTCOME_FIELD = re.compile(r"won|lost|reason|outcome|closed|churn", re.IGNORECASE)

TITLE_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("c_level", r"\b(chief|ceo|cto|cfo|coo|cmo|cio|cro|gesch[äa]ftsf[üu]hrer)\b"),
        ("vp", r"\b(vp|svp|evp|vice[- ]president)\b"),
        ("founder", r"\b(co-?)?(founder|owner|inhaber)\b"),
        ("head", r"\b(head|leiter(in)?)\b"),
        ("director", r"\bdirect(or|eur)\b"),
        ("manager", r"\bmanager\b"),
        ("sales", r"\b(sales|vertrieb|account executive|business development)\b"),
        ("marketing", r"\b(marketing|growth|demand)\b"),
        ("engineering", r"\b(engineer(ing)?|developer|technology|it)\b"),
        ("operations", r"\b(operations|ops|revops)\b"),
        ("finance", r"\b(finance|controller|accounting)\b"),
    )
)
SIZE_BUCKETS = ((10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000"))
LARGEST_BUCKET = "1001+"

# Engagement events read before the cut-off: the feature prefix of each kind (its cause is
# the reply's intent, the activity's type, the call's outcome).
ENGAGEMENT: dict[str, str] = {
    EventKind.CLASSIFIED: "reply",
    EventKind.ACTIVITY: "activity",
    EventKind.CALL_LOGGED: "call",
}
SENT = "sent"
CLICKS = "clicks"


@dataclass(frozen=True)
class Decision:
    """A decided lead: won (True) or lost, and when (its last stage change)."""

    lead_id: int
    won: bool
    at: datetime


def decision_cutoffs() -> Subquery:
    """(lead_id, cutoff, won) of every decided lead, for ``read_features``.

    The cut-off is the lead's last stage change (it is in won or lost now, so its last change
    took it there); a lead with no recorded change falls back to ``updated_at``.
    """
    changed = (
        select(Event.lead_id, func.max(Event.at).label("at"))
        .where(Event.kind == EventKind.STAGE_CHANGED)
        .group_by(Event.lead_id)
        .subquery()
    )
    return (
        select(
            Lead.id.label("lead_id"),
            func.coalesce(changed.c.at, Lead.updated_at).label("cutoff"),
            (Lead.stage == Stage.WON).label("won"),
        )
        .outerjoin(changed, changed.c.lead_id == Lead.id)
        .where(Lead.stage.in_(FINAL_STAGES))
        .subquery()
    )


def decisions(session: Session) -> list[Decision]:
    """Every won or lost lead with the time of its decision, oldest decision first."""
    cutoffs = decision_cutoffs()
    rows = session.execute(select(cutoffs.c.lead_id, cutoffs.c.won, cutoffs.c.cutoff)).all()
    found = [Decision(lead_id, bool(won), at) for lead_id, won, at in rows]
    return sorted(found, key=lambda d: (d.at, d.lead_id))


def open_cutoffs(at: datetime, lead_ids: Sequence[int] | None = None) -> Subquery:
    """(lead_id, cutoff) of leads not decided yet (or of ``lead_ids``), all as of ``at``."""
    query = select(Lead.id.label("lead_id"), literal(at, UTCDateTime()).label("cutoff"))
    if lead_ids is None:
        return query.where(Lead.stage.not_in(FINAL_STAGES)).subquery()
    return query.where(Lead.id.in_(list(lead_ids))).subquery()


def lead_features(
    session: Session, lead_ids: Sequence[int], at: datetime, chunk: int = 500
) -> dict[int, Features]:
    """The features of ``lead_ids`` as of ``at`` (an open lead's score now), ``chunk`` leads
    per query."""
    found: dict[int, Features] = {}
    for start in range(0, len(lead_ids), chunk):
        part = lead_ids[start : start + chunk]
        found.update(read_features(session, open_cutoffs(at, part)))
    return found


def read_features(session: Session, cutoffs: Subquery) -> dict[int, Features]:
    """The features of every lead in ``cutoffs`` (columns lead_id, cutoff), read in three
    queries; only events strictly before each lead's cut-off count."""
    found: dict[int, Features] = {}
    leads = select(Lead.id, Lead.email, Lead.country, Lead.fields).join(
        cutoffs, cutoffs.c.lead_id == Lead.id
    )
    for lead_id, email, country, fields in session.execute(leads):
        found[lead_id] = fit_features(email, country, fields or {})
    before = and_(Event.lead_id == cutoffs.c.lead_id, Event.at < cutoffs.c.cutoff)
    counts = (
        select(Event.lead_id, Event.kind, Event.cause, func.count())
        .join(cutoffs, before)
        .where(Event.kind.in_([*ENGAGEMENT, EventKind.SENT]))
        .group_by(Event.lead_id, Event.kind, Event.cause)
    )
    for lead_id, kind, cause, n in session.execute(counts):
        assert lead_id is not None  # joined to a lead id
        name = SENT if kind == EventKind.SENT else f"{ENGAGEMENT[kind]}:{_word(cause)}"
        _add_count(found.setdefault(lead_id, {}), name, n)
    clicked = and_(Click.lead_id == cutoffs.c.lead_id, Click.at < cutoffs.c.cutoff)
    clicks = (
        select(Click.lead_id, func.count())
        .join(cutoffs, clicked)
        .where(Click.counted.is_(True))
        .group_by(Click.lead_id)
    )
    for lead_id, n in session.execute(clicks):
        assert lead_id is not None
        _add_count(found.setdefault(lead_id, {}), CLICKS, n)
    return found


def _add_count(row: Features, name: str, n: int) -> None:
    """Add ``n`` events to a count feature (kept as ``log2(1 + total)``)."""
    total = (2.0 ** row.get(name, 0.0) - 1.0) + n
    row[name] = round(math.log2(1.0 + total), 6)


def fit_features(email: str, country: str | None, fields: Mapping[str, Any]) -> Features:
    """The fit features of one lead (no engagement): what it is, not what it did."""
    row: Features = {}
    if country:
        row[f"country={country.strip().upper()}"] = 1.0
    domain = email.rpartition("@")[2].lower()
    if domain in PUBLIC_MAIL_DOMAINS:
        row["email:free"] = 1.0
    lowered = {str(k).lower(): v for k, v in fields.items()}
    if industry := _first(lowered, INDUSTRY_FIELDS):
        row[f"industry={_word(industry)}"] = 1.0
    if title := _first(lowered, TITLE_FIELDS):
        for name, pattern in TITLE_KEYWORDS:
            if pattern.search(title):
                row[f"title:{name}"] = 1.0
    if (size := _first(lowered, SIZE_FIELDS)) and (bucket := size_bucket(size)):
        row[f"team_size={bucket}"] = 1.0
    for key, value in lowered.items():
        if key in _NOT_CUSTOM or value is None or isinstance(value, dict | list):
            continue
        if OUTCOME_FIELD.search(key):
            continue
        text = str(value).strip()
        if text and len(text) <= MAX_CUSTOM_VALUE:
            row[f"field:{_word(key)}={_word(text)}"] = 1.0
    return row


def size_bucket(text: str) -> str | None:
    """The team size bucket of ``text`` ("45", "51-200", "1,200"), None without a number."""
    number = re.search(r"\d[\d,.]*", text)
    if number is None:
        return None
    digits = re.sub(r"[,.]", "", number.group())
    size = int(digits) if digits.isdigit() else 0
    for limit, name in SIZE_BUCKETS:
        if size <= limit:
            return name
    return LARGEST_BUCKET


def _first(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = fields.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _word(text: str | None) -> str:
    """A value as part of a feature name: lower case, spaces as underscores."""
    return re.sub(r"\s+", "_", (text or "none").strip().lower())


__all__ = [
    "CLICKS",
    "ENGAGEMENT",
    "SENT",
    "Decision",
    "Features",
    "decision_cutoffs",
    "decisions",
    "fit_features",
    "lead_features",
    "open_cutoffs",
    "read_features",
    "size_bucket",
]
