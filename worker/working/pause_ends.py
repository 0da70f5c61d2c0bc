"""When a pause "until a day" ends: 09:00 that day in the zone of the rep who paused.

The lead page, the reply form, the command line and the JSON API all take a pause's end as a
day (or a full ISO 8601 time); one rule turns the day into a moment, so a lead paused "until
Monday" from the browser and from the command line wakes at the same time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import FieldError
from worker.store.models import Rep

PAUSE_ENDS_AT = time(9, 0)


def pause_end(text: str, zone: tzinfo = UTC, *, field: str = "until") -> datetime | None:
    """``YYYY-MM-DD`` as 09:00 that day in ``zone``; an ISO 8601 time as itself (without an
    offset: in ``zone``); empty: None. FieldError naming ``field`` for anything else."""
    raw = text.strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), PAUSE_ENDS_AT, tzinfo=zone)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise FieldError(
            field, f"{raw!r} is not a date — write a day such as 2027-02-01 (or 2027-02-01T09:00Z)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def rep_zone(session: Session, name: str | None) -> tzinfo:
    """The time zone of rep ``name``; UTC for nobody, an unknown name or a broken zone."""
    zone = session.scalar(select(Rep.timezone).where(Rep.name == name)) if name else None
    try:
        return ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


__all__ = ["PAUSE_ENDS_AT", "pause_end", "rep_zone"]
