"""What is held about one person, found from the schema rather than from a hand-kept list.

A person's rows are:

- their lead, and every row of every table with a ``lead_id`` column naming it (foreign key
  or not: the report's rollup rows have none);
- the inbound messages sent from their address, matched to a lead or not;
- the suppression-list entry of their address;
- and, again and again until nothing new turns up, every row whose foreign key points at one
  of those (a review item's undo snapshot, a webhook delivery of one of their events).

A table added later is covered as soon as it has a ``lead_id`` column or a foreign key to one
of these tables. Rows of other people that merely mention the person are found by
``worker.privacy.mentions``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select, tuple_
from sqlalchemy.orm import Session

from worker.store.models import Base, Lead

LEAD_KEY = "lead_id"
_CHUNK = 500  # values per IN list

Key = tuple[Any, ...]  # a row's primary key values


@dataclass
class Holdings:
    """A person's rows per table name, each row a dict of column → value."""

    email: str
    lead_id: int | None
    rows: dict[str, dict[Key, dict[str, Any]]] = field(default_factory=dict)

    def of(self, table: str) -> list[dict[str, Any]]:
        """The rows of ``table`` (by primary key)."""
        return [self.rows[table][key] for key in sorted(self.rows.get(table, {}), key=repr)]

    def counts(self) -> dict[str, int]:
        """How many rows per table, tables with none left out."""
        return {name: len(found) for name, found in sorted(self.rows.items()) if found}

    def total(self) -> int:
        return sum(len(found) for found in self.rows.values())


def tables() -> list[Table]:
    """Every table of the schema, parents before children."""
    return list(Base.metadata.sorted_tables)


def lead_tables() -> list[Table]:
    """The tables with a ``lead_id`` column (the person's rows are named by it)."""
    return [table for table in tables() if LEAD_KEY in table.c]


def primary_key(table: Table, row: dict[str, Any]) -> Key:
    return tuple(row[column.name] for column in table.primary_key.columns)


def find(session: Session, email: str) -> Holdings:
    """Every row held about the person with the normalised address ``email``."""
    lead_id = session.scalar(select(Lead.id).where(Lead.email == email))
    found = Holdings(email, lead_id)
    by_name = {table.name: table for table in tables()}
    for table, condition in _seeds(by_name, email, lead_id):
        _add(session, found, table, table.select().where(condition))
    while _follow_foreign_keys(session, found):
        pass
    return found


def _seeds(
    by_name: dict[str, Table], email: str, lead_id: int | None
) -> Iterator[tuple[Table, ColumnElement[bool]]]:
    """The rows that name the person directly."""
    if lead_id is not None:
        yield by_name["leads"], by_name["leads"].c.id == lead_id
        for table in lead_tables():
            yield table, table.c[LEAD_KEY] == lead_id
    inbound = by_name["inbound_messages"]
    yield inbound, func.lower(inbound.c.from_address) == email
    suppressions = by_name["suppressions"]
    yield suppressions, suppressions.c.value == email


def _follow_foreign_keys(session: Session, found: Holdings) -> bool:
    """Add the rows that point at a row found so far; whether any was new."""
    grew = False
    for table in tables():
        for key in table.foreign_keys:
            target = key.column
            parents = found.rows.get(target.table.name)
            if not parents:
                continue
            values = sorted({row[target.name] for row in parents.values()} - {None}, key=repr)
            for chunk in _chunks(values):
                query = table.select().where(key.parent.in_(chunk))
                grew |= _add(session, found, table, query)
    return grew


def _add(session: Session, found: Holdings, table: Table, query: Any) -> bool:
    rows = found.rows.setdefault(table.name, {})
    before = len(rows)
    for row in session.execute(query).mappings():
        rows.setdefault(primary_key(table, dict(row)), dict(row))
    return len(rows) > before


def key_condition(table: Table, keys: Sequence[Key]) -> ColumnElement[bool]:
    """``WHERE`` the primary key is one of ``keys``."""
    columns = list(table.primary_key.columns)
    if len(columns) == 1:
        return columns[0].in_([key[0] for key in keys])
    return tuple_(*columns).in_(keys)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


__all__ = [
    "LEAD_KEY",
    "Holdings",
    "Key",
    "find",
    "key_condition",
    "lead_tables",
    "primary_key",
    "tables",
]
