"""Ingest inbound mail: store every message raw first, then match it (``outreach inbox ingest``)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import select

from .inbox import read_source, store
from .matching import match_stored
from .models import InboundMessage
from .runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingestion did."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            **dict(sorted(self.statuses.items())),
        }


def ingest(runtime: Runtime, path: str, stdin: BinaryIO | None = None) -> IngestReport:
    """Store each message of ``path`` (its own transaction), then match what is new."""
    report = IngestReport()
    for raw in read_source(path, stdin):
        report.read += 1
        with runtime.sessions.begin() as session:
            inbound_id = store(session, raw, runtime.clock.now())
        if inbound_id is None:
            report.duplicates += 1
            continue
        report.stored += 1
    report.statuses.update(match_pending(runtime))
    return report


def match_pending(runtime: Runtime) -> Counter[str]:
    """Match every stored message not matched yet (also those a crash left behind)."""
    statuses: Counter[str] = Counter()
    with runtime.sessions() as session:
        pending = list(
            session.scalars(
                select(InboundMessage.id)
                .where(InboundMessage.status == "stored")
                .order_by(InboundMessage.id)
            )
        )
    for inbound_id in pending:
        with runtime.sessions.begin() as session:
            inbound = session.get(InboundMessage, inbound_id)
            if inbound is None or inbound.status != "stored":
                continue
            statuses[match_stored(session, inbound, runtime.clock.now())] += 1
    return statuses
