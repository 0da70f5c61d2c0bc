"""Many rows in one statement: a batch goes to the database as one JSON document.

An import writes thousands of leads, enrollments and events per transaction. Sent through
SQLAlchemy's executemany each row costs tens of microseconds of Python; here a batch is one
``INSERT … SELECT`` (or ``UPDATE … FROM``) reading a JSON array — ``json_to_recordset`` on
PostgreSQL, ``json_each`` on SQLite — so the per-row work is ``json.dumps`` and the database's.
Values shared by every row (timestamps, a status, an event's kind) are bound once.

Column types come from the table, and datetimes are written the way the models' own type
writes them (SQLite keeps them as text in SQLAlchemy's format, which its comparisons rely
on), so the rows read back exactly as if the ORM had written them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Row,
    Table,
    TextClause,
    any_,
    bindparam,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.types import String

from worker.store.models import UTCDateTime


@dataclass(frozen=True)
class Encoded:
    """Rows already written as the JSON document (without datetimes, which are written the
    way the database stores them), e.g. by a thread that prepares the next batch."""

    document: str
    count: int


def encode_rows(rows: Sequence[Mapping[str, Any]]) -> Encoded:
    """The document of ``rows``; TypeError for a value JSON has no form for (a datetime)."""
    return Encoded(json.dumps(rows, ensure_ascii=False, separators=(",", ":")), len(rows))


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]] | Encoded,
    *,
    columns: Sequence[str],
    same: Mapping[str, Any] | None = None,
    skip_conflicts_on: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """Insert ``rows`` (their ``columns``; ``same`` gives the columns equal in every row).

    A row's other keys are ignored, and a column it has no key for is null.

    With ``skip_conflicts_on`` a row that would break that unique key is left out
    (``ON CONFLICT DO NOTHING``); ``returning`` names the columns read back from each row
    written, in no particular order.
    """
    if (rows.count if isinstance(rows, Encoded) else len(rows)) == 0:
        return []
    shared = dict(same or {})
    statement = _insert_sql(
        session.get_bind().dialect,
        table,
        tuple(columns),
        tuple(shared),
        tuple(skip_conflicts_on),
        tuple(returning),
    )
    document = rows.document if isinstance(rows, Encoded) else _document(session, rows)
    params = {"doc": document, **_prefixed(shared)}
    result = session.execute(statement, params)
    return list(result.all()) if returning else []


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str],
    same: Mapping[str, Any] | None = None,
    keep_when_null: Sequence[str] = (),
    key: str = "id",
) -> None:
    """Set ``columns`` (and ``same``) of each row found by its ``key`` value; a null in one
    of the ``keep_when_null`` columns keeps the stored value."""
    if not rows:
        return
    shared = dict(same or {})
    statement = _update_sql(
        session.get_bind().dialect,
        table,
        tuple(columns),
        tuple(shared),
        tuple(keep_when_null),
        key,
    )
    document = _document(session, rows)
    session.execute(statement, {"doc": document, **_prefixed(shared)})


def one_of(
    session: Session, column: QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN (values)`` with the values bound as one JSON document.

    PostgreSQL plans an ``IN`` of thousands of bound parameters slowly (about 0.2 s for
    6,000), SQLite limits their number; one document is quick on both.
    """
    document = bindparam(None, json.dumps(list(values)), type_=String())
    if session.get_bind().dialect.name == "postgresql":
        # = ANY(ARRAY(…)), not IN (SELECT …): with the table's statistics not yet gathered
        # (a fresh import) the planner scans the whole table for an IN, but probes the index
        # for each value of an array
        elements = func.json_array_elements_text(cast(document, JSON)).column_valued("value")
        values_array = func.array(select(cast(elements, column.expression.type)).scalar_subquery())
        return column == any_(values_array)
    each = func.json_each(document).table_valued("value")
    return column.in_(select(each.c.value))


def _prefixed(shared: Mapping[str, Any]) -> dict[str, Any]:
    return {f"same_{name}": value for name, value in shared.items()}


def _document(session: Session, rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as a JSON array of objects (keys that are not written are ignored)."""
    dialect = session.get_bind().dialect
    return json.dumps(
        rows, ensure_ascii=False, separators=(",", ":"), default=_json_default(dialect)
    )


def _json_default(dialect: Dialect) -> Callable[[object], object]:
    """How a datetime is written into the document: as the column type would bind it."""
    if dialect.name == "postgresql":

        def aware(value: object) -> object:
            if isinstance(value, datetime):
                moment = value if value.tzinfo else value.replace(tzinfo=UTC)
                return moment.astimezone(UTC).isoformat()
            raise TypeError(f"cannot write {type(value).__name__} into a JSON batch")

        return aware
    bind = _sqlite_datetime(dialect)

    def sqlite_text(value: object) -> object:
        if isinstance(value, datetime):
            return bind(value)
        raise TypeError(f"cannot write {type(value).__name__} into a JSON batch")

    return sqlite_text


@lru_cache(maxsize=4)
def _sqlite_datetime(dialect: Dialect) -> Callable[[datetime], object]:
    processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    return processor


# --- statements (built once per dialect and shape) --------------------------------------------


@lru_cache(maxsize=64)
def _insert_sql(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    shared: tuple[str, ...],
    skip_conflicts_on: tuple[str, ...],
    returning: tuple[str, ...],
) -> TextClause:
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in (*columns, *shared))
    values = ", ".join([*_read(dialect, table, columns, "r"), *_same(dialect, table, shared)])
    source = _source(dialect, table, columns, "r")
    sql = f"INSERT INTO {quote(table.name)} ({names}) SELECT {values} FROM {source}"  # noqa: S608 (names from the table; values bound)
    if dialect.name == "sqlite":
        sql += " WHERE true"  # SQLite's upsert after a SELECT needs a WHERE clause
    if skip_conflicts_on:
        keys = ", ".join(quote(name) for name in skip_conflicts_on)
        sql += f" ON CONFLICT ({keys}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(quote(name) for name in returning)
    return _typed(text(sql), table, shared)


@lru_cache(maxsize=64)
def _update_sql(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    shared: tuple[str, ...],
    keep_when_null: tuple[str, ...],
    key: str,
) -> TextClause:
    quote = dialect.identifier_preparer.quote
    target = quote(table.name)
    read = _read(dialect, table, (key, *columns), "r")
    values = dict(
        zip((*columns, *shared), [*read[1:], *_same(dialect, table, shared)], strict=True)
    )
    for name in keep_when_null:
        values[name] = f"COALESCE({values[name]}, {target}.{quote(name)})"
    sets = [f"{quote(name)} = {value}" for name, value in values.items()]
    source = _source(dialect, table, (key, *columns), "r")
    match = f"{target}.{quote(key)} = {read[0]}"
    sql = f"UPDATE {target} SET {', '.join(sets)} FROM {source} WHERE {match}"  # noqa: S608 (names from the table; values bound)
    return _typed(text(sql), table, shared)


def _source(dialect: Dialect, table: Table, columns: tuple[str, ...], alias: str) -> str:
    """The document as a table: typed columns on PostgreSQL, one JSON value a row on SQLite."""
    if dialect.name == "postgresql":
        quote = dialect.identifier_preparer.quote
        types = ", ".join(
            f"{quote(name)} {table.c[name].type.compile(dialect=dialect)}" for name in columns
        )
        return f"json_to_recordset(CAST(:doc AS json)) AS {alias}({types})"
    return f"json_each(:doc) AS {alias}"


def _read(dialect: Dialect, table: Table, columns: tuple[str, ...], alias: str) -> list[str]:
    quote = dialect.identifier_preparer.quote
    if dialect.name == "postgresql":
        return [f"{alias}.{quote(name)}" for name in columns]
    return [f"json_extract({alias}.value, '$.{name}')" for name in columns]


def _same(dialect: Dialect, table: Table, shared: tuple[str, ...]) -> list[str]:
    if dialect.name == "postgresql":
        return [
            f"CAST(:same_{name} AS {table.c[name].type.compile(dialect=dialect)})"
            for name in shared
        ]
    return [f":same_{name}" for name in shared]


def _typed(clause: TextClause, table: Table, shared: tuple[str, ...]) -> TextClause:
    return clause.bindparams(
        bindparam("doc", type_=String()),
        *(bindparam(f"same_{name}", type_=table.c[name].type) for name in shared),
    )


__all__ = ["Encoded", "encode_rows", "insert_rows", "one_of", "update_rows"]
