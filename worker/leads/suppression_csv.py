"""The suppression list as CSV: import (streamed, bad rows reported) and export.

Columns: ``value`` (an address, a domain or ``@domain``; ``email``, ``address`` and ``domain``
are accepted as its name), optional ``reason`` and ``created_at`` (ISO 8601, as exported).
A header row is required. A bad row is reported as ``FILE.csv:ROW: message`` and skipped;
the rows around it are still imported, in batches of 500, each its own transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from worker.clock import Clock, as_utc
from worker.errors import SuppressionError
from worker.leads.csv_input import RowError, csv_rows
from worker.leads.suppressions import add, entries, normalise_reason, normalise_value
from worker.store import events
from worker.vocabulary import EventKind

BATCH_ROWS = 500
EXPORT_COLUMNS = ("value", "reason", "created_at")
_VALUE_NAMES = ("value", "email", "address", "domain")


@dataclass(frozen=True)
class Entry:
    """One valid row of a suppression file."""

    value: str
    reason: str
    created_at: datetime | None


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    added: int = 0
    already: int = 0
    stopped_leads: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "added": self.added,
            "already_suppressed": self.already,
            "stopped_leads": self.stopped_leads,
            "errors": [str(e) for e in self.errors],
        }


def read_entries(path: Path, default_reason: str) -> Iterator[tuple[int, Entry | RowError]]:
    """Stream ``(line, entry or error)`` from a suppression CSV without loading it whole."""
    shown = path.name
    rows = csv_rows(path, SuppressionError, "the file", "value")
    _, header = next(rows)
    assert not isinstance(header, RowError)
    columns = [h.strip().lower() for h in header]
    value_at = next((columns.index(n) for n in _VALUE_NAMES if n in columns), None)
    if value_at is None:
        raise SuppressionError(
            f"{shown}:1: no 'value' column in the header ({', '.join(header)}) — "
            "the first row must name the columns, e.g. 'value,reason'."
        )
    reason_at = columns.index("reason") if "reason" in columns else None
    created_at = columns.index("created_at") if "created_at" in columns else None
    for line, cells in rows:
        if isinstance(cells, RowError):
            yield line, cells
            continue
        if len(cells) > len(columns):
            message = f"row has {len(cells)} cells but the header has {len(columns)}"
            yield line, RowError(shown, line, message)
            continue
        padded = cells + [""] * (len(columns) - len(cells))
        try:
            yield (
                line,
                Entry(
                    normalise_value(padded[value_at]),
                    normalise_reason(
                        padded[reason_at] if reason_at is not None else None, default_reason
                    ),
                    _time(padded[created_at]) if created_at is not None else None,
                ),
            )
        except ValueError as exc:
            yield line, RowError(shown, line, str(exc))


def import_file(
    sessions: sessionmaker[Session], path: Path, clock: Clock, *, reason: str
) -> ImportReport:
    """Add every valid row of ``path``; bad rows end up in the report."""
    report = ImportReport()
    batch: list[Entry] = []
    for _line, item in read_entries(path, reason):
        report.rows += 1
        if isinstance(item, RowError):
            report.errors.append(item)
            continue
        batch.append(item)
        if len(batch) >= BATCH_ROWS:
            _apply(sessions, clock, batch, report)
            batch = []
    _apply(sessions, clock, batch, report)
    with sessions.begin() as session:
        events.record(
            session,
            EventKind.SUPPRESSIONS_IMPORTED,
            at=clock.now(),
            lead_id=None,
            cause=reason,
            file=path.name,
            **{k: v for k, v in report.as_dict().items() if k != "errors"},
            errors=len(report.errors),
        )
    return report


def _apply(
    sessions: sessionmaker[Session], clock: Clock, batch: list[Entry], report: ImportReport
) -> None:
    if not batch:
        return
    now = clock.now()
    with sessions.begin() as session:
        for entry in batch:
            done = add(
                session,
                entry.value,
                reason=entry.reason,
                at=now,
                created_at=entry.created_at,
                record=False,
            )
            report.added += done.added
            report.already += not done.added
            report.stopped_leads += done.stopped_leads


def export(session: Session, handle: IO[str]) -> int:
    """Write the list as CSV (value, reason, created_at); how many entries."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for entry in entries(session):
        writer.writerow([entry[name] for name in EXPORT_COLUMNS])
        count += 1
    return count


def _time(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(
            f"created_at {text!r} is not an ISO 8601 time (e.g. 2027-01-04T09:00:00Z)"
        ) from None
