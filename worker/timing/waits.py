"""When is a step due: waits in days, business days (Mon-Fri) or hours, in the lead's time zone.

Send windows, public holidays and blackout dates come on top (``worker.timing.windows``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.authoring.schema import Wait

SATURDAY = 5
MAX_SKIPPED_DAYS = 2 * 366  # a calendar with no working day at all cannot loop forever


def lead_zone(name: str | None) -> tzinfo:
    """The lead's time zone, UTC when unknown or unset."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def add_wait(
    start: datetime,
    wait: Wait,
    zone: tzinfo = UTC,
    is_business_day: Callable[[date], bool] | None = None,
) -> datetime:
    """The moment ``wait`` after ``start``; business days skip weekends in ``zone``.

    ``is_business_day`` (a local date → bool) replaces "Monday to Friday" when given, e.g. to
    skip the lead's public holidays and blackout dates as well (``worker.timing.windows``).
    """
    if wait.unit == "hours":
        return start + timedelta(hours=wait.amount)
    local = start.astimezone(zone)
    if wait.unit == "days":
        # Calendar days keep the local wall-clock time across DST changes.
        moved = (local.replace(tzinfo=None) + timedelta(days=wait.amount)).replace(tzinfo=zone)
        return moved.astimezone(UTC)
    working = is_business_day or _weekday
    naive = local.replace(tzinfo=None)
    remaining = wait.amount
    for _ in range(MAX_SKIPPED_DAYS):
        if working(naive.date()):
            break
        naive += timedelta(days=1)
    idle = 0
    while remaining > 0:
        naive += timedelta(days=1)
        if working(naive.date()) or idle >= MAX_SKIPPED_DAYS:
            remaining, idle = remaining - 1, 0
        else:
            idle += 1
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _weekday(day: date) -> bool:
    return day.weekday() < SATURDAY
