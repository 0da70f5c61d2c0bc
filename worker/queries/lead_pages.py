"""Read models for the web app's lead pages: a page of the list, and one lead's whole story
(touches with the text as sent, replies and events in one timeline)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from worker.clock import as_utc, iso
from worker.errors import NotFoundError
from worker.queries import labels
from worker.queries.leads import (
    Gathered,
    current_enrollments,
    gather_lead,
    lead_record,
    lead_row,
    reply_row,
)
from worker.store.models import LEAD_COLUMNS, Event, Lead
from worker.vocabulary import EventKind, TouchStatus

LEADS_PER_PAGE = 50
# Counting stops here: past it the page says "more than 10,000" instead of reading every
# matching lead (a substring search over a million leads would read them all to count).
COUNT_AT_MOST = 10_000
UNOWNED = "unassigned"  # the owner filter of leads nobody owns (not a rep's name: reserved)


@dataclass(frozen=True)
class LeadFilter:
    """The leads list's filter (stage, status, an email/company substring), shared by the
    page and the bulk actions on the leads it shows."""

    stage: str | None = None
    status: str | None = None
    search: str | None = None
    # A rep's name: the leads they own; ``UNOWNED``: the leads nobody owns; None: anyone's.
    owner: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions of the filter (none: every lead)."""
        conditions: list[ColumnElement[bool]] = []
        if self.owner == UNOWNED:
            conditions.append(Lead.owner.is_(None))
        elif self.owner:
            conditions.append(Lead.owner == self.owner)
        if self.stage:
            conditions.append(Lead.stage == self.stage)
        if self.status:
            conditions.append(Lead.status == self.status)
        if self.search:
            conditions.append(
                or_(
                    Lead.email.icontains(self.search, autoescape=True),
                    Lead.company.icontains(self.search, autoescape=True),
                )
            )
        return conditions


def leads_page(
    session: Session,
    *,
    stage: str | None = None,
    status: str | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = LEADS_PER_PAGE,
    count_at_most: int | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """One page of lead rows (each with its ``id``), filtered by stage, status, an
    email/company substring and owner (``LeadFilter.owner``), in id order.

    ``total`` is the number of matching leads and ``pages`` the number of pages, both exact
    up to ``count_at_most`` (default ``COUNT_AT_MOST``) matches; beyond it ``total`` is that
    number, ``total_exact`` is False, ``pages`` None and ``has_next`` tells whether a later
    page has leads. A page past the end shows the last one.
    """
    conditions = LeadFilter(stage, status, search, owner).conditions()
    if count_at_most is None:
        count_at_most = COUNT_AT_MOST
    matching = select(Lead.id).where(*conditions)
    total = _count(session, matching.limit(count_at_most + 1))
    exact = total <= count_at_most
    page = max(page, 1)
    if exact:
        page = min(page, max(1, -(-total // per_page)))
    leads = _page(session, conditions, page, per_page)
    if not leads and page > 1:  # past the end of a long list: count it all, show the last
        total, exact = _count(session, matching), True
        page = max(1, -(-total // per_page))
        leads = _page(session, conditions, page, per_page)
    has_next = len(leads) > per_page
    leads = leads[:per_page]
    enrollments = current_enrollments(session, [lead.id for lead in leads])
    rows = [{**lead_row(lead, enrollments.get(lead.id)), "id": lead.id} for lead in leads]
    return {
        "rows": rows,
        "total": min(total, count_at_most) if not exact else total,
        "total_exact": exact,
        "page": page,
        "pages": max(1, -(-total // per_page)) if exact else None,
        "has_next": has_next,
        "per_page": per_page,
    }


def _count(session: Session, matching: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(matching.subquery())) or 0)


def _page(
    session: Session, conditions: list[ColumnElement[bool]], page: int, per_page: int
) -> list[Lead]:
    """The leads of ``page`` and the first of the next (to know whether there is one)."""
    return list(
        session.scalars(
            select(Lead)
            .where(*conditions)
            .order_by(Lead.id)
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
    )


_STANDARD_FIELDS = frozenset({"email", "stage", *LEAD_COLUMNS})
# The text of an email is shown once it went (or may have gone) out.
_TEXT_SHOWN = frozenset({TouchStatus.SENT, TouchStatus.DELIVERED, TouchStatus.UNKNOWN})


def lead_page(session: Session, lead_id: int) -> dict[str, Any]:
    """The lead's record (as ``show_lead``) plus ``id``, ``country``, its open review items
    and ``entries``: touches (with the text as sent), replies and events in one
    chronological list. NotFoundError for an unknown id."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFoundError(f"No lead with id {lead_id}.")
    gathered = gather_lead(session, lead)
    record = lead_record(gathered)
    return {
        **record,
        "id": lead.id,
        "country": lead.country,
        "open_review": [r for r in record["review"] if r["resolved_at"] is None],
        # CSV columns beyond the standard ones (the import keeps every column in ``fields``).
        "custom_fields": {
            key: value
            for key, value in (lead.fields or {}).items()
            if key not in _STANDARD_FIELDS and value not in (None, "")
        },
        "entries": timeline_entries(gathered),
    }


def timeline_entries(gathered: Gathered) -> list[dict[str, Any]]:
    """Touches, replies and events of a lead, oldest first; each with ``type``, ``at``
    (ISO 8601 UTC) and what the timeline page shows.

    A touch takes the place of its ``sent`` event and a reply that of its ``reply_received``
    event (those events are not listed again). A reply without such an event comes before
    the events of the same moment (what its classification caused); a touch not sent (yet)
    after them.
    """
    touch_ids = {t.id for t in gathered.touches}
    reply_ids = {m.id for m in gathered.replies}
    sent_at: dict[int, Event] = {}
    received_at: dict[int, Event] = {}
    for e in gathered.events:
        if e.kind == EventKind.SENT and e.touch_id in touch_ids:
            sent_at.setdefault(e.touch_id, e)
        inbound_id = (e.detail or {}).get("inbound_id")
        if e.kind == EventKind.REPLY_RECEIVED and inbound_id in reply_ids:
            received_at.setdefault(inbound_id, e)
    folded = {e.id for e in (*sent_at.values(), *received_at.values())}
    keyed: list[tuple[tuple[datetime, int, int], dict[str, Any]]] = []
    for t in gathered.touches:
        anchor = sent_at.get(t.id)
        at = t.finished_at or t.due_at
        entry = {
            "type": "touch",
            "at": iso(at),
            "id": t.id,
            "kind": t.kind,
            "sequence": t.sequence,
            "step": t.step_index + 1,
            "status": t.status,
            "mailbox": t.mailbox,
            "subject": t.subject,
            "variant": t.variant,
            "sent_at": iso(t.finished_at) if t.status == TouchStatus.SENT else None,
            "sent_by": anchor.cause if anchor is not None and anchor.cause != "due" else None,
            "due_at": iso(t.due_at),
            "error": t.last_error,
            "body_text": t.body_text if t.status in _TEXT_SHOWN else None,
        }
        key = (as_utc(anchor.at), 1, anchor.id) if anchor else (as_utc(at), 2, t.id)
        keyed.append((key, entry))
    for m in gathered.replies:
        anchor = received_at.get(m.id)
        entry = {"type": "reply", "at": iso(m.received_at), **reply_row(m)}
        key = (as_utc(anchor.at), 1, anchor.id) if anchor else (as_utc(m.received_at), 0, m.id)
        keyed.append((key, entry))
    for e in gathered.events:
        if e.id in folded:
            continue
        entry = {
            "type": "event",
            "at": iso(e.at),
            "kind": e.kind,
            "sequence": e.sequence,
            "step": e.step_index + 1 if e.step_index is not None else None,
            "cause": e.cause,
            "summary": event_summary(e.kind, e.cause, e.detail or {}),
            "label": event_label(e.kind),
            # A rep's reply written in the app: its text as sent.
            "text": (e.detail or {}).get("text") if e.kind == EventKind.REPLY_SENT else None,
        }
        keyed.append(((as_utc(e.at), 1, e.id), entry))
    keyed.sort(key=lambda row: row[0])
    return [entry for _, entry in keyed]


# Details worth a word on the timeline (the rest are ids and message headers).
_SHOWN_DETAILS = (
    "confidence",
    "return_date",
    "referral_email",
    "resume_at",
    "actions",
    "assignee",
    "value",
    "recipients",
    "mailbox",
    "error",
    "retry_in_s",
    "available_at",
    "detail",
    "note",
    "reason",
)


def event_label(kind: str) -> str:
    """How the timeline names an event's kind: "Stage changed", "Accepted as SQL"
    (the words are ``worker.queries.labels``')."""
    return labels.event_label(kind)


def event_summary(kind: str, cause: str | None, detail: dict[str, Any]) -> str:
    """An event's details as one line of text: ``stage_changed`` as "from → to", a pause
    with its resume time, a classification with its confidence, else "key: value" parts."""
    if kind == EventKind.STAGE_CHANGED:
        moved = f"{detail.get('previous') or '?'} → {detail.get('stage') or '?'}"
        return f"{moved}: {detail['reason']}" if detail.get("reason") else moved
    if kind == EventKind.ASSIGNED:
        return f"{detail.get('previous') or 'nobody'} → {detail.get('assignee') or 'nobody'}"
    if kind == EventKind.REPLY_SENT:
        return f"{detail.get('subject') or ''} (from mailbox {detail.get('mailbox') or '?'})"
    worked = _rep_work_summary(kind, detail)
    if worked is not None:
        return worked
    special = _scoring_summary(kind, cause, detail)
    if special is not None:
        return special
    parts: list[str] = []
    if kind == EventKind.CLASSIFIED and cause:
        confidence = detail.get("confidence")
        parts.append(
            f"{cause} ({confidence:.0%})" if isinstance(confidence, (int, float)) else cause
        )
    elif kind == EventKind.PAUSED and detail.get("resume_at"):
        parts.append(f"until {_readable(detail['resume_at'])}")
    for key in _SHOWN_DETAILS:
        if kind == EventKind.CLASSIFIED and key == "confidence":
            continue
        if kind == EventKind.PAUSED and key == "resume_at":
            continue
        value = detail.get(key)
        if value in (None, "", [], False):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        label = "" if key == "detail" else f"{key.replace('_', ' ')}: "
        parts.append(f"{label}{_readable(value)}")
    return "; ".join(parts)


def _scoring_summary(kind: str, cause: str | None, detail: dict[str, Any]) -> str | None:
    """One line for the scoring, acceptance and engagement events, or None for the rest."""
    if kind == EventKind.SCORE_CROSSED:
        rules = ", ".join(
            f"{rule.get('rule')} ({rule.get('points', 0):+g})" for rule in detail.get("rules", [])
        )
        reached = f"score {_points(detail.get('score'))} reached {_points(detail.get('threshold'))}"
        return f"{cause}: {reached}" + (f"; {rules}" if rules else "")
    if kind == EventKind.SQL_ACCEPTED:
        answers = (
            f"interested {detail.get('interested')}, buying now {detail.get('buying_now')}"
            + (f" ({detail['timeframe']})" if detail.get("timeframe") else "")
            + f", decision-maker {detail.get('decision_maker')}"
            + (f" ({detail['who']})" if detail.get("who") else "")
        )
        return f"by {detail.get('by') or 'a rep'}: {answers}"
    if kind == EventKind.SQL_REJECTED:
        note = f" ({detail['note']})" if detail.get("note") else ""
        return f"by {detail.get('by') or 'a rep'}: {(cause or '').replace('_', ' ')}{note}"
    if kind == EventKind.LINK_CLICKED:
        counted = "counted" if detail.get("counted") else f"not counted: {detail.get('verdict')}"
        return f"{detail.get('url')} ({counted})"
    return None


def _rep_work_summary(kind: str, detail: dict[str, Any]) -> str | None:
    """One line for what a rep did to the lead (``worker.working``), or None for the rest."""
    if kind == EventKind.NOTE_ADDED:
        return str(detail.get("note") or "")
    if kind == EventKind.OWNER_CHANGED:
        return f"{detail.get('previous') or 'nobody'} → {detail.get('owner') or 'nobody'}"
    if kind == EventKind.FIELDS_CHANGED:
        return "; ".join(
            f"{name.replace('_', ' ')}: {_readable(was) if was not in (None, '') else '—'} → "
            f"{_readable(now) if now not in (None, '') else '—'}"
            for name, (was, now) in sorted((detail.get("changes") or {}).items())
        )
    if kind == EventKind.CALL_LOGGED:
        outcome = str(detail.get("outcome") or "").replace("_", " ")
        return f"{outcome}: {detail['note']}" if detail.get("note") else outcome
    return None


def _points(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _readable(value: Any) -> str:
    """A detail value as text; ISO 8601 times as "2027-01-12 09:00 UTC"."""
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)
