"""Other rows that mention a person: their address, their name or an identifier of theirs in
any text, JSON or binary column of any table (another lead's referral event, a colleague's
reply, a rep's note). Found by a ``LIKE`` per column, then checked and scrubbed here.

What identifies a person (``terms``): the address; "First Last" and "Last, First" (a first
or last name alone is too common to remove from other people's rows); and the values of the
lead's custom fields that are identifiers of their own: a phone number, another address of
theirs, a URL with their name in it (a profile). An address that is another lead's (the
``referred_by`` of a referral) is that person's, not theirs, and is left alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    LargeBinary,
    String,
    Table,
    Text,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause

from worker.privacy.holdings import Holdings, Key, primary_key, tables
from worker.store.dialect import is_postgres
from worker.store.models import Lead

ERASED = "[erased]"
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,}$")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
_MIN_TERM_CHARS = 5
# Custom fields naming somebody else (a referral's referrer).
_NOT_THEIRS = frozenset({"referred_by", "referred_by_name"})


@dataclass(frozen=True)
class Mention:
    """A row of another table naming the person in some of its columns."""

    table: Table
    key: Key
    row: dict[str, Any]
    columns: tuple[str, ...]


def terms(session: Session, email: str, lead: dict[str, Any] | None) -> list[str]:
    """The texts that identify the person, longest first."""
    found = {email}
    if lead is not None:
        first = (lead.get("first_name") or "").strip()
        last = (lead.get("last_name") or "").strip()
        if first and last:
            found.update({f"{first} {last}", f"{last}, {first}"})
        names = [name.lower() for name in (first, last) if len(name) >= 3]
        for key, value in (lead.get("fields") or {}).items():
            text = str(value).strip()
            if key in _NOT_THEIRS or key in ("first_name", "last_name"):
                continue
            if _PHONE.match(text) and _digits(text) >= 7:
                found.add(text)
            elif "@" in text and " " not in text:
                found.add(text.lower())
            elif _URL.match(text) and any(name in text.lower() for name in names):
                found.add(text)
    others = set(session.scalars(select(Lead.email).where(Lead.email.in_(found - {email}))))
    return sorted(
        (t for t in found - others if len(t) >= _MIN_TERM_CHARS), key=lambda t: (-len(t), t)
    )


def pattern(terms: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for every term; spaces in a term match any white space."""
    parts = [r"\s+".join(map(re.escape, term.split())) for term in terms]
    return re.compile("|".join(parts), re.IGNORECASE)


def find(session: Session, held: Holdings, terms: list[str]) -> Iterator[Mention]:
    """The rows, outside ``held``, whose text mentions one of ``terms``."""
    if not terms:
        return
    matcher = pattern(terms)
    postgres = is_postgres(session)
    for table in tables():
        columns = [c for c in table.columns if _searchable(c)]
        if not columns:
            continue
        owned = held.rows.get(table.name, {})
        conditions = [
            _as_text(column, postgres).ilike(like, escape="\\")
            for column in columns
            for like in _likes(terms, column)
        ]
        for found in session.execute(table.select().where(or_(*conditions))).mappings():
            row = dict(found)
            key = primary_key(table, row)
            if key in owned:
                continue
            named = tuple(c.name for c in columns if _mentions(matcher, row[c.name]))
            if named:
                yield Mention(table, key, row, named)


def scrubbed(matcher: re.Pattern[str], value: Any) -> Any:
    """``value`` with every mention replaced by ``ERASED`` (text, JSON or bytes)."""
    if isinstance(value, str):
        return matcher.sub(ERASED, value)
    if isinstance(value, bytes):
        binary = re.compile(matcher.pattern.encode("utf-8"), re.IGNORECASE)
        return binary.sub(ERASED.encode(), value)
    if isinstance(value, dict):
        return {scrubbed(matcher, k): scrubbed(matcher, v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(matcher, item) for item in value]
    return value


def _mentions(matcher: re.Pattern[str], value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bytes):
        return matcher.search(value.decode("utf-8", "replace")) is not None
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    return matcher.search(value) is not None


def _searchable(column: ColumnClause[Any]) -> bool:
    return isinstance(column.type, String | Text | JSON | LargeBinary)


def _as_text(column: Any, postgres: bool) -> ColumnElement[str]:
    if isinstance(column.type, LargeBinary):
        return func.encode(column, "escape") if postgres else cast(column, Text)
    if isinstance(column.type, JSON):
        return cast(column, Text)
    return column  # type: ignore[no-any-return]


def _likes(terms: list[str], column: Any) -> Iterator[str]:
    """``LIKE`` patterns finding candidates (the pattern above then decides): the words of a
    term in order, and in JSON also as escaped by a JSON encoder."""
    for term in terms:
        variants = {term}
        if isinstance(column.type, JSON):
            variants.add(json.dumps(term)[1:-1])
        for variant in variants:
            yield "%" + "%".join(_escape(word) for word in variant.split()) + "%"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


__all__ = ["ERASED", "Mention", "find", "pattern", "scrubbed", "terms"]
