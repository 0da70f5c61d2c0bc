"""Plain rows the report is computed from, detached from the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

NO_DETAIL: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class LeadRow:
    """A lead as it is now."""

    id: int
    stage: str
    status: str
    deal_value: float | None
    created_at: datetime
    currency: str | None = None  # its own currency field, else its country's; None: the default


class EventRow(NamedTuple):
    """One event of the log (a tuple: hundreds of thousands are read for one report)."""

    at: datetime
    lead_id: int | None
    touch_id: int | None
    kind: str
    sequence: str | None = None
    step_index: int | None = None
    cause: str | None = None
    detail: Mapping[str, Any] = NO_DETAIL


@dataclass(frozen=True)
class TouchRow:
    """One touch of the send ledger."""

    id: int
    lead_id: int
    sequence: str
    step_index: int
    mailbox: str | None
    variant: str | None
