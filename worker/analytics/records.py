"""Plain rows the report is computed from, detached from the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LeadRow:
    """A lead as it is now."""

    id: int
    stage: str
    status: str
    deal_value: float | None
    created_at: datetime


@dataclass(frozen=True)
class EventRow:
    """One event of the log."""

    at: datetime
    lead_id: int | None
    touch_id: int | None
    kind: str
    sequence: str | None = None
    step_index: int | None = None
    cause: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TouchRow:
    """One touch of the send ledger."""

    id: int
    lead_id: int
    sequence: str
    step_index: int
    mailbox: str | None
    variant: str | None
