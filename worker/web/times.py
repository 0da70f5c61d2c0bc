"""Times as a rep reads them: the ``local_time`` template filter.

Read models carry times as ISO 8601 UTC strings (or datetimes); pages show them through
``{{ value|local_time }}`` so that one place decides the zone and the format: the signed-in
rep's own time zone (read once per request by ``worker.web.auth``), with its abbreviation
(``2027-01-04 10:00 CET``). Public pages (no rep) show UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g


def local_time(value: str | datetime | None, with_zone: bool = True) -> str:
    """``value`` as ``YYYY-MM-DD HH:MM ZONE`` in the reader's zone, '' for None."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(reader_zone())
    text = local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {zone_abbreviation(local)}" if with_zone else text


def reader_zone() -> tzinfo:
    """The signed-in rep's zone; UTC on public pages and outside a request."""
    name = g.get("rep_timezone") if g else None
    return _zone(name) if name else UTC


def zone_abbreviation(moment: datetime) -> str:
    """``CET``, ``EST``, ``UTC``; zones without a letter abbreviation say ``UTC-03`` or
    ``UTC+05:45``."""
    name = moment.tzname() or "UTC"
    if name[0] not in "+-":
        return name
    offset = moment.strftime("%z")  # +0530
    return f"UTC{offset[:3]}:{offset[3:]}" if offset[3:] != "00" else f"UTC{offset[:3]}"


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC  # a zone removed from the system's database since it was set


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")


__all__ = ["init_app", "local_time", "reader_zone", "zone_abbreviation"]
