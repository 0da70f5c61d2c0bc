"""Writing one batch of imported rows: leads upserted by normalised email, in a few statements.

Rows are applied in file order. The first row of an address creates the lead (or updates a
known one); every later row of the same address updates it, whether it comes in the same
batch or a later one: a value it gives replaces the stored one, a blank cell keeps it, and its
custom fields are merged into the lead's. The stage is only set when a lead is created. So
``created + updated`` is the number of good rows, whatever the batch size. An ``owner`` cell
(a rep, checked by the import) sets the lead's owner, with an ``owner_changed`` event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.orm import Session

from worker.leads.bulk_rows import Encoded, encode_rows, insert_rows, one_of, update_rows
from worker.leads.ownership import record_owner_changes
from worker.store.models import LEAD_COLUMNS, Event, Lead
from worker.vocabulary import EventKind, LeadStatus, Stage

_LEADS = cast(Table, Lead.__table__)
_EVENTS = cast(Table, Event.__table__)
_UPDATED = (*LEAD_COLUMNS, "owner")  # what a later row of an address replaces (blank: keeps)
_WRITTEN = ("email", *_UPDATED, "stage", "fields")  # what a new lead takes from its row


class ImportedLead(NamedTuple):
    """A lead as an import batch left it: what enrolling needs (see ``Enrollable``)."""

    id: int
    email: str
    stage: str
    status: str
    timezone: str | None
    country: str | None
    rows: int  # rows of the batch with this address
    created: bool  # by this batch


@dataclass
class Upserted:
    """What a batch wrote: its leads (one per address, first seen first) and the counts."""

    leads: list[ImportedLead]
    created: int
    updated: int


@dataclass
class Folded:
    """A batch ready to write: one row per address (``_fold_repeats``), how many rows each
    address had, and the leads' insert document. Made by ``fold_batch`` in the thread that
    reads the file, while the previous batch is being written."""

    merged: dict[str, dict[str, Any]]
    counts: dict[str, int]
    rows: int
    document: Encoded

    def __len__(self) -> int:
        return self.rows


def fold_batch(rows: Sequence[dict[str, Any]]) -> Folded:
    """Fold a batch of parsed rows (``validate_row``'s output; they are changed in place)."""
    merged, counts = _fold_repeats(rows)
    for row in merged.values():
        row.setdefault("stage", Stage.PROSPECTING)
    return Folded(merged, counts, len(rows), encode_rows(list(merged.values())))


def upsert_leads(
    session: Session, batch: Folded | Sequence[dict[str, Any]], now: datetime
) -> Upserted:
    """Create or update the lead of every row of ``batch`` (parsed or folded) at ``now``.

    Every address is inserted unless it exists (``ON CONFLICT DO NOTHING``); only those that
    did exist — before, or created meanwhile by another import — are read and updated, so a
    file of new leads costs no look-up.
    """
    folded = batch if isinstance(batch, Folded) else fold_batch(batch)
    merged, counts = folded.merged, folded.counts
    created = {
        row.email: row.id
        for row in insert_rows(
            session,
            _LEADS,
            folded.document,
            columns=_WRITTEN,
            same={"status": LeadStatus.ACTIVE, "created_at": now, "updated_at": now},
            skip_conflicts_on=("email",),
            returning=("id", "email"),
        )
    }
    known = (
        _known(session, [e for e in merged if e not in created])
        if len(created) < len(merged)
        else {}
    )
    insert_rows(
        session,
        _EVENTS,
        [{"lead_id": lead_id} for lead_id in created.values()],
        columns=("lead_id",),
        same={"kind": EventKind.LEAD_CREATED, "at": now, "cause": "import", "detail": {}},
    )
    update_rows(
        session,
        _LEADS,
        [
            {
                "id": lead.id,
                "fields": {**(lead.fields or {}), **merged[email]["fields"]},
                **{column: merged[email].get(column) for column in _UPDATED},
            }
            for email, lead in known.items()
        ],
        columns=(*_UPDATED, "fields"),
        same={"updated_at": now},
        keep_when_null=_UPDATED,
    )
    owners = [
        (lead_id, None, merged[email]["owner"])
        for email, lead_id in created.items()
        if merged[email].get("owner")
    ] + [
        (lead.id, lead.owner, merged[email]["owner"])
        for email, lead in known.items()
        if merged[email].get("owner") not in (None, lead.owner)
    ]
    if owners:
        record_owner_changes(session, owners, now, "import")
    leads = []
    for email, row in merged.items():
        lead_id = created.get(email)
        if lead_id is not None:
            leads.append(
                ImportedLead(
                    lead_id,
                    email,
                    row["stage"],
                    LeadStatus.ACTIVE,
                    row.get("timezone"),
                    row.get("country"),
                    counts[email],
                    created=True,
                )
            )
        else:
            lead = known.get(email)
            if lead is None:  # deleted meanwhile by someone else: nothing to enroll
                continue
            leads.append(
                ImportedLead(
                    lead.id,
                    email,
                    lead.stage,
                    lead.status,
                    row.get("timezone") or lead.timezone,
                    row.get("country") or lead.country,
                    counts[email],
                    created=False,
                )
            )
    return Upserted(leads, created=len(created), updated=folded.rows - len(created))


def _fold_repeats(
    rows: Iterable[dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """One row per address (later rows of an address folded into its first, as updates)
    and how many rows each address had."""
    merged: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        first = merged.get(row["email"])
        if first is None:
            merged[row["email"]] = row
            counts[row["email"]] = 1
            continue
        counts[row["email"]] += 1
        for column in _UPDATED:
            if row.get(column) is not None:
                first[column] = row[column]
        first["fields"] = {**first["fields"], **row["fields"]}
    return merged, counts


def _known(session: Session, emails: Iterable[str]) -> dict[str, Row[Any]]:
    """The leads that already have these addresses, by address."""
    found = session.execute(
        select(
            Lead.id,
            Lead.email,
            Lead.stage,
            Lead.status,
            Lead.timezone,
            Lead.country,
            Lead.fields,
            Lead.owner,
        ).where(one_of(session, Lead.email, emails))
    )
    return {row.email: row for row in found}
