"""The append-only event log: every change to a lead is recorded with time and cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from worker.store.models import Event
from worker.vocabulary import EventKind

_INSERT = insert(Event.__table__)  # type: ignore[arg-type]


def record(
    session: Session,
    kind: EventKind,
    *,
    at: datetime,
    lead_id: int | None,
    touch_id: int | None = None,
    sequence: str | None = None,
    step_index: int | None = None,
    cause: str | None = None,
    **detail: Any,
) -> None:
    """Append one event."""
    record_many(
        session,
        [
            {
                "kind": kind,
                "at": at,
                "lead_id": lead_id,
                "touch_id": touch_id,
                "sequence": sequence,
                "step_index": step_index,
                "cause": cause,
                "detail": detail,
            }
        ],
    )


def record_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append many events at once (each row: kind, at, lead_id, ... detail)."""
    if not rows:
        return
    prepared = [
        {
            "kind": row["kind"],
            "at": row["at"],
            "lead_id": row.get("lead_id"),
            "touch_id": row.get("touch_id"),
            "sequence": row.get("sequence"),
            "step_index": row.get("step_index"),
            "cause": row.get("cause"),
            "detail": row.get("detail", {}),
        }
        for row in rows
    ]
    session.connection().execute(_INSERT, prepared)
