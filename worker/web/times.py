"""Times as a rep reads them: the ``local_time`` template filter.

Read models carry times as ISO 8601 UTC strings (or datetimes); pages show them through
``{{ value|local_time }}`` so that one place decides the zone and the format: the signed-in
rep's own time zone (read once per request by ``worker.web.auth``), with its abbreviation
(``2027-01-04 10:00 CET``). Public pages (no rep) show UTC.
"""

from __future__ import annotations

import re
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


_UTC_IN_TEXT = re.compile(r"\b(\d{4}-\d\d-\d\d \d\d:\d\d) UTC\b")


def local_times_in(text: str | None) -> str:
    """``text`` with each ``YYYY-MM-DD HH:MM UTC`` in it (the timeline's one-line summaries,
    written by read models shared with the command line) shown in the reader's zone."""
    if not text:
        return ""
    return _UTC_IN_TEXT.sub(
        lambda found: local_time(datetime.fromisoformat(found[1]).replace(tzinfo=UTC)), text
    )


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
    app.add_template_filter(local_times_in, "local_times_in")


__all__ = ["init_app", "local_time", "local_times_in", "reader_zone", "zone_abbreviation"]
