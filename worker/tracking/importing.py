"""``outreach events import FILE.csv``: activities from a CSV file (columns ``email``, ``type``,
``at``, and any others, kept as the event's data). Every bad row is reported once, as
``FILE.csv:LINE: field 'NAME': what is wrong — what to do``, and skipped; the rest are
recorded (in one transaction, after the whole file is read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from worker.errors import LeadImportError
from worker.leads.csv_input import RowError, csv_rows
from worker.tracking.activities import (
    Activity,
    lead_ids,
    no_lead,
    parse_activity,
    record_activities,
)

REQUIRED = ("email", "type")


@dataclass
class EventImport:
    """What an import did: rows read, events recorded, and each skipped row's error."""

    file: str
    rows: int = 0
    recorded: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "recorded": self.recorded,
            "skipped": len(self.errors),
            "errors": [{"line": e.row, "message": e.message} for e in self.errors],
        }


def import_events(sessions: sessionmaker[Session], path: Path, now: datetime) -> EventImport:
    """Read ``path`` and record its good rows; LeadImportError when the file itself is
    unusable (cannot be opened, empty, no ``email`` or ``type`` column)."""
    report = EventImport(file=path.name)
    rows = csv_rows(path, LeadImportError, "the events file", "email,type,at")
    _, first = next(rows)
    assert isinstance(first, list)
    header = [name.strip().lower() for name in first]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise LeadImportError(
            f"{path.name}:1: no {' or '.join(repr(m) for m in missing)} column — the header "
            "needs email,type and may have at and more columns (kept as the event's data)"
        )
    accepted: list[tuple[int, Activity]] = []
    for line, cells in rows:
        report.rows += 1
        if isinstance(cells, RowError):
            report.errors.append(cells)
            continue
        activity = _activity(report, header, line, cells, now)
        if activity is not None:
            accepted.append((line, activity))
    with sessions.begin() as session:
        known = lead_ids(session, (a.email for _, a in accepted))
        good = []
        for line, activity in accepted:
            lead_id = known.get(activity.email)
            if lead_id is None:
                report.errors.append(_error(report, line, "email", no_lead(activity.email)))
                continue
            good.append((activity, lead_id))
        record_activities(session, good, now, "import")
    report.recorded = len(good)
    report.errors.sort(key=lambda e: e.row)
    return report


def _activity(
    report: EventImport, header: list[str], line: int, cells: list[str], now: datetime
) -> Activity | None:
    if len(cells) > len(header):
        report.errors.append(
            RowError(
                report.file,
                line,
                f"{len(cells)} cells but the header has {len(header)} columns — quote cells "
                'that hold a comma ("a, b")',
            )
        )
        return None
    row = dict(zip(header, (c.strip() for c in cells), strict=False))
    values: dict[str, Any] = {name: row.get(name) for name in ("email", "type", "at")}
    values["detail"] = {k: v for k, v in row.items() if k not in values and k and v}
    activity, errors = parse_activity({k: v for k, v in values.items() if v is not None}, now)
    if activity is None:
        name, message = next(iter(errors.items()))  # one clear error per row: the first
        report.errors.append(_error(report, line, name, message))
    return activity


def _error(report: EventImport, line: int, name: str, message: str) -> RowError:
    return RowError(report.file, line, f"field {name!r}: {message} (row skipped)")


__all__ = ["EventImport", "import_events"]
