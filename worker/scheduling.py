"""When is a step due: waits in days, business days (Mon-Fri) or hours, in the lead's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .authoring.schema import Wait

SATURDAY = 5


def lead_zone(name: str | None) -> tzinfo:
    """The lead's time zone, UTC when unknown or unset."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def add_wait(start: datetime, wait: Wait, zone: tzinfo = UTC) -> datetime:
    """The moment ``wait`` after ``start``; business days skip weekends in ``zone``."""
    if wait.unit == "hours":
        return start + timedelta(hours=wait.amount)
    local = start.astimezone(zone)
    if wait.unit == "days":
        # Calendar days keep the local wall-clock time across DST changes.
        moved = (local.replace(tzinfo=None) + timedelta(days=wait.amount)).replace(tzinfo=zone)
        return moved.astimezone(UTC)
    naive = local.replace(tzinfo=None)
    remaining = wait.amount
    while naive.weekday() >= SATURDAY:
        naive += timedelta(days=1)
    while remaining > 0:
        naive += timedelta(days=1)
        if naive.weekday() < SATURDAY:
            remaining -= 1
    return naive.replace(tzinfo=zone).astimezone(UTC)
