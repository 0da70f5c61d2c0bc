"""Undoing a resolution for a short while after it (``undo_window_s``, two minutes by default).

When a resolution is applied, ``Snapshot.take`` notes what it may change — the state of the
leads it is about (status, stage, qualification, owner), their enrollments and unfinished
touches, the item and its inbound message — and the highest ids of the tables it may add
rows to. ``keep`` then stores that state, the rows the resolution created (enrollments,
touches, review items, suppressions, leads) and the last event it wrote, in
``resolution_undo``.

``undo`` puts it all back in one transaction: the state restored, the created rows deleted,
the item open again, an event ``resolution_undone`` recorded. It refuses, with one line that
says why, when the window has passed, when an email went out to the lead since (it cannot be
unsent), or when something else happened to the lead since (a reply, another rep's change):
the snapshot would then overwrite newer facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from worker.clock import as_utc
from worker.errors import NotFoundError, OutreachError
from worker.runtime import Runtime
from worker.store import events
from worker.store.models import (
    Base,
    Enrollment,
    Event,
    InboundMessage,
    Lead,
    ResolutionUndo,
    ReviewItem,
    Suppression,
    Touch,
)
from worker.vocabulary import EventKind, TouchStatus

# What a resolution may change, table by table (never personal data: names, addresses, text).
LEAD_STATE = ("status", "stage", "qualification", "mql_at", "sql_at", "owner", "updated_at")
ENROLLMENT_STATE = ("status", "current_step", "next_due_at", "resume_at", "finished_at")
TOUCH_STATE = (
    "status",
    "due_at",
    "available_at",
    "enqueued_at",
    "claim_token",
    "holder",
    "finished_at",
)
ITEM_STATE = ("lead_id", "resolved_at", "resolution", "note")
INBOUND_STATE = (
    "status",
    "lead_id",
    "touch_id",
    "matched_by",
    "error",
    "intent",
    "confidence",
    "return_date",
    "referral_email",
    "classification",
    "processed_at",
    "label",
    "labelled_by",
    "labelled_at",
)
# Touches a resolution may move on (a task done, a touch requeued or settled).
_UNFINISHED = (
    TouchStatus.QUEUED,
    TouchStatus.TASK_OPEN,
    TouchStatus.UNKNOWN,
    TouchStatus.FAILED,
)
# A touch in one of these since the resolution: an email went out (or is going out).
_GONE_OUT = (
    TouchStatus.CLAIMED,
    TouchStatus.SENDING,
    TouchStatus.DELIVERED,
    TouchStatus.SENT,
    TouchStatus.UNKNOWN,
)
# What the engine writes on its own after a resolution without changing what it decided.
_BOOKKEEPING = (EventKind.SCHEDULED, EventKind.SEND_DEFERRED, EventKind.POSTPONED)
# Tables a resolution may add rows to, each with the column holding the row's creation time.
_CREATED = {
    "leads": (Lead, Lead.created_at),
    "enrollments": (Enrollment, Enrollment.enrolled_at),
    "touches": (Touch, Touch.created_at),
    "review_items": (ReviewItem, ReviewItem.created_at),
    "suppressions": (Suppression, Suppression.created_at),
}


@dataclass(frozen=True)
class Undone:
    """The outcome of undoing one resolution."""

    item_id: int
    action: str
    lead_email: str | None


@dataclass(frozen=True)
class Snapshot:
    """The state a resolution is about to change, and the ids it will create rows above."""

    state: dict[str, Any]
    marks: dict[str, int]

    @classmethod
    def take(
        cls, session: Session, item: ReviewItem, lead_ids: Iterable[int], *, inbound: bool
    ) -> Snapshot:
        """Read what a resolution of ``item`` about ``lead_ids`` may change (``inbound``: its
        message too — only when the message will belong to a lead, whose deletion or erasure
        then deletes this copy with it)."""
        ids = sorted(set(lead_ids))
        session.flush()
        leads = session.scalars(select(Lead).where(Lead.id.in_(ids))).all() if ids else []
        enrollments = (
            session.scalars(select(Enrollment).where(Enrollment.lead_id.in_(ids))).all()
            if ids
            else []
        )
        touches = (
            session.scalars(
                select(Touch).where(Touch.lead_id.in_(ids), Touch.status.in_(_UNFINISHED))
            ).all()
            if ids
            else []
        )
        message = (
            session.get(InboundMessage, item.inbound_id) if inbound and item.inbound_id else None
        )
        state = {
            "leads": {str(r.id): _dump(r, LEAD_STATE) for r in leads},
            "enrollments": {str(r.id): _dump(r, ENROLLMENT_STATE) for r in enrollments},
            "touches": {str(r.id): _dump(r, TOUCH_STATE) for r in touches},
            "item": _dump(item, ITEM_STATE),
            "inbound": _dump(message, INBOUND_STATE) if message is not None else None,
        }
        marks = {
            name: session.scalar(select(func.max(model.id))) or 0  # type: ignore[attr-defined]
            for name, (model, _) in _CREATED.items()
        }
        return cls(state, marks)


def keep(
    session: Session,
    item: ReviewItem,
    snapshot: Snapshot,
    *,
    lead_id: int | None,
    by: str | None,
    at: datetime,
    window_s: int,
) -> None:
    """Store ``snapshot`` for undoing the resolution just applied to ``item`` (``at``), with
    the rows it created; forget undo data whose window has passed."""
    session.flush()
    session.execute(delete(ResolutionUndo).where(ResolutionUndo.expires_at < at))
    session.execute(delete(ResolutionUndo).where(ResolutionUndo.item_id == item.id))
    created = {
        name: sorted(
            session.scalars(
                select(model.id).where(  # type: ignore[attr-defined]
                    model.id > snapshot.marks[name],  # type: ignore[attr-defined]
                    when == at,
                )
            )
        )
        for name, (model, when) in _CREATED.items()
    }
    leads = set(map(int, snapshot.state["leads"])) | set(created["leads"])
    last_event = (
        session.scalar(select(func.max(Event.id)).where(Event.lead_id.in_(leads)))
        if leads
        else None
    )
    session.add(
        ResolutionUndo(
            item_id=item.id,
            lead_id=lead_id,
            action=item.resolution or "",
            snapshot={**snapshot.state, "created": created},
            resolved_by=by,
            resolved_at=at,
            expires_at=at + timedelta(seconds=window_s),
            last_event_id=last_event,
        )
    )


def undo_until(session: Session, item_id: int, at: datetime) -> datetime | None:
    """When the undo window of item ``item_id``'s resolution closes (None: nothing to undo)."""
    row = session.get(ResolutionUndo, item_id)
    if row is None or as_utc(row.expires_at) < at:
        return None
    return as_utc(row.expires_at)


def undo_now(runtime: Runtime, item_id: int, *, by: str | None = None) -> Undone:
    """``undo`` in its own transaction, now."""
    with runtime.sessions.begin() as session:
        return undo(session, item_id, at=runtime.clock.now(), by=by)


def undo(session: Session, item_id: int, *, at: datetime, by: str | None = None) -> Undone:
    """Reopen item ``item_id`` and put back what its resolution changed; OutreachError (one
    line, saying why) when that is no longer possible."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"No review item {item_id} — see 'outreach review list'.")
    if item.resolved_at is None:
        raise OutreachError(f"Review item {item_id} is open; there is nothing to undo.")
    row = session.get(ResolutionUndo, item_id)
    if row is None:
        raise OutreachError(
            f"The resolution of review item {item_id} ({item.resolution}) can no longer be "
            "undone — its undo window has passed; change the lead from its page instead."
        )
    if as_utc(row.expires_at) < at:
        raise OutreachError(
            f"Too late to undo review item {item_id}: its undo window closed at "
            f"{as_utc(row.expires_at):%Y-%m-%d %H:%M} UTC; "
            + ("change the lead from its page instead." if row.lead_id else "it stays resolved.")
        )
    state: dict[str, Any] = row.snapshot
    created: dict[str, list[int]] = state.get("created", {})
    leads = sorted(set(map(int, state["leads"])) | set(created.get("leads", [])))
    _check_nothing_happened(session, item_id, row, leads)
    claimed = session.execute(
        delete(ResolutionUndo).where(ResolutionUndo.item_id == item_id),
        execution_options={"synchronize_session": False},
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise OutreachError(f"Review item {item_id} was just undone by someone else.")
    session.expunge(row)
    _restore(session, Lead, state["leads"])
    _restore(session, Enrollment, state["enrollments"])
    _restore(session, Touch, state["touches"])
    inbound = session.get(InboundMessage, item.inbound_id) if item.inbound_id else None
    if inbound is not None and state.get("inbound") is not None:
        _load(inbound, state["inbound"])
    _load(item, state["item"])
    session.flush()
    _delete_created(session, created)
    # The lead the resolution was about (for an attached message, the one it was attached to).
    about = row.lead_id if row.lead_id is not None else item.lead_id
    lead = session.get(Lead, about) if about is not None else None
    if lead is not None:
        events.record(
            session,
            EventKind.RESOLUTION_UNDONE,
            at=at,
            lead_id=lead.id,
            cause=row.action,
            item=item_id,
            by=by,
        )
    return Undone(item_id, row.action, lead.email if lead is not None else None)


def _check_nothing_happened(
    session: Session, item_id: int, row: ResolutionUndo, leads: Sequence[int]
) -> None:
    """Refuse when an email went out to the leads since, or anything else happened to them."""
    if not leads:
        return
    since = as_utc(row.resolved_at)
    sent = session.scalar(
        select(Lead.email)
        .join(Touch, Touch.lead_id == Lead.id)
        .where(
            Touch.lead_id.in_(leads),
            Touch.kind == "email",
            Touch.status.in_(_GONE_OUT),
            Touch.claimed_at >= since,
        )
        .limit(1)
    )
    if sent is not None:
        raise OutreachError(
            f"Cannot undo review item {item_id}: an email went out to {sent} after it was "
            "resolved, and mail cannot be unsent; change the lead from its page instead."
        )
    later = session.execute(
        select(Event.kind, Event.cause)
        .where(
            Event.lead_id.in_(leads),
            Event.id > (row.last_event_id or 0),
            Event.kind.not_in(_BOOKKEEPING),
        )
        .order_by(Event.id)
        .limit(1)
    ).first()
    if later is not None:
        what = later.kind + (f" ({later.cause})" if later.cause else "")
        raise OutreachError(
            f"Cannot undo review item {item_id}: the lead changed after it was resolved "
            f"({what}); change the lead from its page instead."
        )


def _delete_created(session: Session, created: dict[str, list[int]]) -> None:
    """Delete the rows the resolution created, dependants first."""
    for name in ("review_items", "touches", "enrollments", "suppressions", "leads"):
        ids = created.get(name) or []
        if not ids:
            continue
        model = _CREATED[name][0]
        session.execute(
            delete(model).where(model.id.in_(ids)),  # type: ignore[attr-defined]
            execution_options={"synchronize_session": "fetch"},
        )


def _restore(session: Session, model: type[Base], rows: dict[str, dict[str, Any]]) -> None:
    for key, values in rows.items():
        found = session.get(model, int(key))
        if found is not None:
            _load(found, values)


def _dump(row: Base, columns: Sequence[str]) -> dict[str, Any]:
    return {name: _encode(getattr(row, name)) for name in columns}


def _load(row: Base, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(row, name, _decode(value))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": as_utc(value).isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
    return value


__all__ = ["Snapshot", "Undone", "keep", "undo", "undo_now", "undo_until"]
