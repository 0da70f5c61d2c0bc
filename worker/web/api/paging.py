"""Query parameters of the lists: opaque cursors (keyset on id), ``limit``, times, and the
check that no unknown parameter is sent.

A cursor is the base64url of ``<list>:<last id>``: the next page holds the rows with a
higher id, so rows inserted meanwhile never shift a page and each row is returned once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import UTC, datetime

from flask import request

from worker.web.api.gate import invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(kind: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def after_id(kind: str) -> int:
    """The id the page starts after (0 on the first page); 422 for a cursor of another
    list or one that was not given by the API."""
    raw = request.args.get("cursor")
    if raw is None or raw == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != kind or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid(
            [("cursor", "cursor is not one this list returned — pass next_cursor unchanged")]
        ) from None


def page_limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid([("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")])
    return int(raw)


def time_param(name: str) -> datetime | None:
    """An ISO 8601 time parameter as UTC (a time without zone is UTC); 422 when unreadable."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        # An unescaped "+01:00" in a query string arrives as " 01:00".
        text = raw[:11] + raw[11:].replace(" ", "+") if "T" in raw else raw
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(
            [(name, f"{name} {raw!r} is not a time — write ISO 8601, e.g. 2027-01-04T09:00:00Z")]
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def refuse_unknown_params(allowed: Iterable[str]) -> None:
    known = {"cursor", "limit", *allowed}
    unknown = [name for name in request.args if name not in known]
    if unknown:
        names = ", ".join(sorted(known))
        raise invalid((name, f"unknown parameter {name!r} — use {names}") for name in unknown)


def next_cursor(kind: str, ids: list[int], limit: int, more: bool) -> str | None:
    """The cursor of the page after one holding ``ids`` (None when it was the last)."""
    return encode_cursor(kind, ids[-1]) if more and ids else None


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "after_id",
    "encode_cursor",
    "next_cursor",
    "page_limit",
    "refuse_unknown_params",
    "time_param",
]
