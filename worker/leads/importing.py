"""Importing leads from CSV: upsert by normalised email, report bad rows, enroll the rest."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.authoring.schema import SequenceSpec
from worker.authoring.sequences import Catalog
from worker.clock import Clock
from worker.errors import LeadImportError
from worker.leads.addresses import erased_values, normalise_email
from worker.leads.bulk_rows import encode_rows
from worker.leads.csv_input import RowError, csv_rows
from worker.leads.enrollment import EnrollResult, enroll_many
from worker.leads.locales import currency_code, language_problem
from worker.leads.ordered_writes import OrderedWrites, Turn
from worker.leads.read_ahead import read_ahead
from worker.leads.upserts import Folded, ImportedLead, fold_batch, upsert_leads
from worker.store.marks import mark
from worker.store.models import LEAD_COLUMNS, Lead, Rep
from worker.timing.windows import country_code
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, LeadStatus, Stage

BATCH_ROWS = 2000  # good rows per transaction
WRITERS = 2  # PostgreSQL: batches written at once, each on its own connection
_COLUMN = re.compile(r"[^a-z0-9]+")
_ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "mail": "email",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "organisation": "company",
    "organization": "company",
    "tz": "timezone",
    "time_zone": "timezone",
    "value": "deal_value",
    "deal_size": "deal_value",
}
MAX_CELL_CHARS = 2000
MAX_NAME_CHARS = {"first_name": 100, "last_name": 100, "company": 200}  # they go into headers
_SHORTEST_LIMIT = min(MAX_CELL_CHARS, *MAX_NAME_CHARS.values())
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line breaks stay allowed


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    enrollment: EnrollResult = field(default_factory=EnrollResult)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "enrolled": self.enrollment.enrolled,
            "not_enrolled": self.enrollment.skipped,
            "errors": [str(e) for e in self.errors],
        }


def column_name(header: str) -> str:
    """``"First Name"`` → ``first_name`` (with common aliases folded)."""
    name = _COLUMN.sub("_", header.strip().lower()).strip("_")
    return _ALIASES.get(name, name)


def parse_row(raw: Mapping[str, str]) -> dict[str, Any]:
    """Validate one CSV row (already keyed by column name); ValueError names the field."""
    row, errors = validate_row(raw)
    if errors:
        raise ValueError(next(iter(errors.values())))
    return row


def validate_row(raw: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Check every field of one lead (keyed by column name, e.g. a CSV row or a web form).

    Returns the parsed row (``email``, lead columns, ``stage``, the other values in
    ``fields``) and a message per invalid field, in the order ``parse_row`` reports them;
    the row is only usable when there are no messages.
    """
    values = {k: v.strip() for k, v in raw.items() if v and not v.isspace()}
    errors: dict[str, str] = {}
    # The cells are checked one by one only when the row as a whole holds a control
    # character or a value long enough to break a limit (most rows do neither).
    controls = _CONTROL.search("\n".join(values.values())) is not None
    long = max(map(len, values.values()), default=0) > _SHORTEST_LIMIT
    for key, value in values.items() if controls or long else ():
        if len(value) > MAX_CELL_CHARS:
            errors[key] = f"field {key!r} is longer than {MAX_CELL_CHARS} characters"
        elif controls and _CONTROL.search(value):
            errors[key] = (
                f"field {key!r} holds a control character (such as a NUL byte) — "
                "remove it; it cannot be stored or sent"
            )
        elif len(value) > MAX_NAME_CHARS.get(key, MAX_CELL_CHARS):
            errors[key] = (
                f"field {key!r} is {len(value)} characters long (at most "
                f"{MAX_NAME_CHARS[key]}): it goes into email headers, where it cannot fit"
            )
    row: dict[str, Any] = {}
    try:
        row["email"] = normalise_email(values.pop("email", ""))
    except ValueError as exc:
        errors.setdefault("email", str(exc))
    if "timezone" in values and not _is_zone(values["timezone"]):
        errors.setdefault(
            "timezone",
            f"timezone {values['timezone']!r} is unknown — use an IANA name such as Europe/Berlin",
        )
    if "deal_value" in values:
        try:
            row["deal_value"] = parse_amount(values.pop("deal_value"))
        except ValueError as exc:
            errors.setdefault("deal_value", str(exc))
    if "country" in values:
        try:
            values["country"] = country_code(values["country"])
        except ValueError as exc:
            errors.setdefault("country", str(exc))
    if "language" in values and (problem := language_problem(values["language"])):
        errors.setdefault("language", problem)
    if "currency" in values:
        try:
            values["currency"] = currency_code(values["currency"])
        except ValueError as exc:
            errors.setdefault("currency", str(exc))
    if "stage" in values:
        stage = values.pop("stage").lower()
        if stage not in PIPELINE_STAGES + FINAL_STAGES:
            errors.setdefault(
                "stage",
                f"stage {stage!r} is unknown — use one of "
                f"{', '.join(PIPELINE_STAGES + FINAL_STAGES)}",
            )
        row["stage"] = stage
    for column in ("first_name", "last_name", "company", "timezone", "country"):
        if column in values:
            row[column] = values[column]
    if "owner" in values:  # a rep's name; that the rep exists is checked by the import
        row["owner"] = values.pop("owner").lower()
    row["fields"] = values
    return row, errors


@lru_cache(maxsize=1024)
def _is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone (remembered: a miss searches the disk)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def lead_from_row(row: dict[str, Any]) -> Lead:
    """An unsaved Lead from a parsed row (for previews and validation of sample leads)."""
    return Lead(
        id=0,
        email=row["email"],
        stage=row.get("stage", Stage.PROSPECTING),
        status=LeadStatus.ACTIVE,
        fields=row["fields"],
        **{column: row.get(column) for column in LEAD_COLUMNS},
    )


def parse_amount(text: str) -> float:
    """``"42500"``, ``"42,500.50"`` or ``"42500.5"`` → float; ValueError otherwise."""
    cleaned = text.replace("_", "")
    if _THOUSANDS.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(
            f"deal_value {text!r} is not a number — write e.g. 42500 or 42500.50"
        ) from None
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"deal_value {text!r} must be a positive number")
    return value


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Stream ``(line, row or error)`` from a CSV file without loading it whole.

    ``line`` is the line where the row starts. Bytes that are not UTF-8 (a file saved as
    Latin-1 by a spreadsheet) make only their own row an error; the rows after it are still
    read, so nothing is silently lost.
    """
    shown = path.name
    rows = csv_rows(path, LeadImportError, "the leads file", "email")
    _, header = next(rows)
    assert not isinstance(header, RowError)
    columns = [column_name(h) for h in header]
    if "email" not in columns:
        raise LeadImportError(
            f"{shown}:1: no 'email' column in the header ({', '.join(header)}) — add one."
        )
    dupes = {c for c in columns if columns.count(c) > 1 and c}
    if dupes:
        raise LeadImportError(f"{shown}:1: column(s) {', '.join(sorted(dupes))} appear twice.")
    for line, cells in rows:
        if isinstance(cells, RowError):
            yield line, cells
            continue
        if len(cells) != len(columns):
            yield (
                line,
                RowError(
                    shown, line, f"row has {len(cells)} cells but the header has {len(columns)}"
                ),
            )
            continue
        try:
            yield line, parse_row(dict(zip(columns, cells, strict=True)))
        except ValueError as exc:
            yield line, RowError(shown, line, str(exc))


def import_leads(
    factory: sessionmaker[Session],
    path: Path,
    clock: Clock,
    catalog: Catalog,
    *,
    sequence: str | None = None,
    enroll: bool = True,
    score: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert every good row, enroll leads, and report bad rows; batches commit as they go.
    With ``score`` (the project has scoring rules) every imported lead is marked for scoring
    in its batch's transaction, so the tick scores new and changed leads by their fields.

    The file is streamed: at most ``BATCH_ROWS`` good rows are held, and each batch is one
    transaction, so a bad row is only reported and what came before it stays imported. On
    PostgreSQL two batches are written at once (``WRITERS``, ``worker.leads.ordered_writes``):
    they commit in order, and the rows of an address the batch before also has are written
    only once that batch has committed, so the outcome is that of one batch after the other.
    """
    spec = catalog.get(sequence) if sequence else None
    report = ImportReport()
    with factory() as session:
        width = WRITERS if session.get_bind().dialect.name == "postgresql" else 1
        reps = frozenset(session.scalars(select(Rep.name)))
    write = _BatchWriter(factory, clock, catalog, spec, enroll, score)
    with (
        closing(
            read_ahead(_parsed_batches(path, width > 1, reps), name="lead-import-reader")
        ) as batches,
        OrderedWrites[_Written](width, name="lead-import-writer") as writes,
    ):
        for parsed in batches:
            for done in writes.submit(partial(write, parsed)):
                _add(report, done, progress)
        for done in writes.drain():
            _add(report, done, progress)
    if progress:
        progress(report.rows)
    return report


@dataclass
class _Parsed:
    """A batch read from the file: its good rows (folded, ready to write), its bad ones, and
    how many rows it read. ``later`` holds the rows of addresses the batch before also has
    (only when batches are written at once): they are written after that batch committed."""

    good: Folded | None
    errors: list[RowError]
    rows: int
    full: bool  # False for the last one, which may be short
    later: Folded | None = None
    file: str = ""
    lines: dict[str, list[int]] = field(default_factory=dict)  # address -> its rows' lines


@dataclass
class _Written:
    """What writing one batch did, added to the report in the file's order."""

    parsed: _Parsed
    created: int = 0
    updated: int = 0
    enrollment: EnrollResult = field(default_factory=EnrollResult)


def _add(report: ImportReport, done: _Written, progress: Callable[[int], None] | None) -> None:
    report.rows += done.parsed.rows
    report.errors.extend(done.parsed.errors)
    report.created += done.created
    report.updated += done.updated
    _merge(report.enrollment, done.enrollment)
    if progress and done.parsed.full:
        progress(report.rows)


def _parsed_batches(
    path: Path, split: bool = False, reps: frozenset[str] = frozenset()
) -> Iterator[_Parsed]:
    """The file's rows in batches of ``BATCH_ROWS`` good rows (the last may be short); with
    ``split``, the rows of addresses the batch before has too are set apart (``later``).
    A row whose ``owner`` is not one of ``reps`` is an error."""
    good: list[dict[str, Any]] = []
    errors: list[RowError] = []
    lines: dict[str, list[int]] = {}
    rows = 0
    before: set[str] = set()

    def parsed(full: bool) -> _Parsed:
        nonlocal before
        now, later = good, []
        if split and before:
            later = [row for row in good if row["email"] in before]
            if later:
                now = [row for row in good if row["email"] not in before]
        before = {row["email"] for row in good} if split else set()
        return _Parsed(
            fold_batch(now) if now else None,
            errors,
            rows,
            full=full,
            later=fold_batch(later) if later else None,
            file=path.name,
            lines=lines,
        )

    for line, read in read_rows(path):
        rows += 1
        item = read if isinstance(read, RowError) else _with_known_owner(read, reps, path, line)
        if isinstance(item, RowError):
            errors.append(item)
            continue
        good.append(item)
        lines.setdefault(item["email"], []).append(line)
        if len(good) >= BATCH_ROWS:
            yield parsed(full=True)
            good, errors, lines, rows = [], [], {}, 0
    yield parsed(full=False)


def _with_known_owner(
    row: dict[str, Any], reps: frozenset[str], path: Path, line: int
) -> dict[str, Any] | RowError:
    """The row, or its error when its ``owner`` is not a rep."""
    owner = row.get("owner")
    if owner is None or owner in reps:
        return row
    return RowError(path.name, line, f"no rep {owner!r} — see 'outreach reps list'")


@dataclass
class _BatchWriter:
    """Writes one parsed batch in one transaction, in its turn (``Turn``): the next batch
    begins once this one's leads are inserted (so serial ids follow the file, as when one
    batch is written after the other) and commits after this one."""

    factory: sessionmaker[Session]
    clock: Clock
    catalog: Catalog
    spec: SequenceSpec | None
    enroll: bool
    score: bool

    def __call__(self, parsed: _Parsed, turn: Turn) -> _Written:
        done = _Written(parsed)
        if parsed.good is None and parsed.later is None:
            turn.wait()
            return done
        now = self.clock.now()
        with self.factory.begin() as session:
            if parsed.good is not None:
                self._write(session, _without_erased(session, parsed.good, parsed), now, done, turn)
            turn.wait()  # the batch before has committed: its leads are there to update
            if parsed.later is not None:
                later = _without_erased(session, parsed.later, parsed)
                self._write(session, later, now, done, turn)
        return done

    def _write(
        self, session: Session, rows: Folded, now: datetime, done: _Written, turn: Turn
    ) -> None:
        if not rows.merged:  # every address of the batch was refused
            turn.let_next_begin()
            return
        written = upsert_leads(session, rows, now)
        turn.let_next_begin()  # new leads took their ids in the file's order
        done.created += written.created
        done.updated += written.updated
        if self.score:
            mark(session, (lead.id for lead in written.leads), now)
        if not self.enroll:
            return
        repeats = {lead.id: lead.rows - 1 for lead in written.leads if lead.rows > 1}
        new = {lead.id for lead in written.leads if lead.created}
        by_spec: dict[str, tuple[SequenceSpec, list[ImportedLead]]] = {}
        for lead in written.leads:
            lead_spec = self.spec or self.catalog.for_stage(lead.stage)
            if lead_spec is None:
                for _ in range(lead.rows):
                    done.enrollment.skip(f"no sequence for stage {lead.stage}")
                continue
            by_spec.setdefault(lead_spec.name, (lead_spec, []))[1].append(lead)
        for lead_spec, leads in by_spec.values():
            outcome = enroll_many(
                session,
                leads,
                lead_spec,
                at=now,
                cause="import",
                schedules=self.catalog.schedules,
                repeats=repeats,
                new=new,
            )
            _merge(done.enrollment, outcome)


def _without_erased(session: Session, rows: Folded, parsed: _Parsed) -> Folded:
    """``rows`` less the addresses of people erased on request, each of their rows reported
    in ``parsed.errors``: an erased person is never imported again."""
    erased = erased_values(session, rows.merged)
    if not erased:
        return rows
    for email in sorted(erased):
        for line in parsed.lines.get(email, [0]):
            parsed.errors.append(
                RowError(
                    parsed.file,
                    line,
                    f"{email} was erased at the person's request and is suppressed — it is "
                    "never imported again; remove the row",
                )
            )
    parsed.errors.sort(key=lambda error: error.row)
    merged = {email: row for email, row in rows.merged.items() if email not in erased}
    counts = {email: n for email, n in rows.counts.items() if email not in erased}
    return Folded(merged, counts, sum(counts.values()), encode_rows(list(merged.values())))


def _merge(total: EnrollResult, part: EnrollResult) -> None:
    total.enrolled += part.enrolled
    for reason, count in part.skipped.items():
        total.skipped[reason] = total.skipped.get(reason, 0) + count
