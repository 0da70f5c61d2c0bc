"""Send windows: when a schedule is open for a lead, and when a step is due under it.

Everything is worked out in the lead's local wall time and converted with zoneinfo:

- a day is open when its weekday is one of the schedule's ``days``, it is not a public holiday
  of the lead's country (``holidays: true``; no country: no holidays) and no blackout date;
- a span such as ``09:00-17:00`` opens at the first instant the local clock shows 09:00 and
  closes at the first instant it shows 17:00. On a spring-forward day a skipped time (02:30 in
  Berlin) is the moment the clocks jump (03:00); on a fall-back day a time that happens twice
  counts at its first occurrence;
- jitter spreads a batch: each touch gets a fixed offset of 0..jitter from a hash of (lead,
  sequence, step), cut short so it never passes the end of the window it falls in.

The send-time check that uses these (``window_gate``) is in ``worker.delivery.gates``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from worker.authoring.schedules import Schedules, ScheduleSpec
from worker.authoring.schema import SequenceSpec, Wait
from worker.errors import ConfigError
from worker.timing.waits import SATURDAY, add_wait

log = logging.getLogger(__name__)

_ALIASES = {"UK": "GB"}  # the holidays library knows both; store the ISO code
SEARCH_DAYS = 3 * 366  # a schedule closed for longer than this is a mistake, not a wait


@lru_cache(maxsize=1024)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of ``country`` (ISO 3166 code) in ``year``; none when unknown."""
    import holidays  # about 0.2 s to import: only when a schedule needs it

    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:
        log.warning("no public holidays known for country %r; only blackout dates apply", country)
        return frozenset()


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    """Two-letter codes the holidays library knows (every ISO 3166-1 code, plus XK and UK)."""
    import holidays

    return frozenset(code for code in holidays.list_supported_countries() if len(code) == 2)


def country_code(text: str) -> str:
    """A lead's country as an ISO 3166-1 code (``de`` → ``DE``, ``UK`` → ``GB``); ValueError
    naming the value when the holidays library does not know it."""
    code = text.strip().upper()
    code = _ALIASES.get(code, code)
    if len(code) != 2 or code not in supported_countries():
        raise ValueError(
            f"country {text!r} is not an ISO 3166 country code — use two letters such as DE, "
            "GB or US"
        )
    return code


def is_holiday(day: date, schedule: ScheduleSpec, country: str | None) -> bool:
    """Whether ``day`` is a public holiday the schedule observes, or a blackout date."""
    if any(first <= day <= last for first, last in schedule.blackout):
        return True
    return bool(schedule.holidays and country and day in public_holidays(country, day.year))


def is_open_day(day: date, schedule: ScheduleSpec, country: str | None) -> bool:
    """Whether the schedule sends at all on the local date ``day``."""
    return day.weekday() in schedule.days and not is_holiday(day, schedule, country)


def business_days(schedule: ScheduleSpec, country: str | None) -> Callable[[date], bool]:
    """Business days under ``schedule``: Monday to Friday, minus holidays and blackout dates."""

    def working(day: date) -> bool:
        return day.weekday() < SATURDAY and not is_holiday(day, schedule, country)

    return working


def local_instant(day: date, minutes: int, zone: tzinfo) -> datetime:
    """The first instant (UTC) at which the local clock in ``zone`` shows ``minutes`` after
    midnight of ``day`` or later (24:00 is the next midnight)."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    guess = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(guess, zone) == wall:
        return guess  # exists; when it happens twice, fold=0 is the first time
    # Skipped by a spring-forward gap: fold=1 reads it with the offset after the change (an
    # instant before the jump), fold=0 with the one before (an instant after it). The clocks
    # jump in between; find that instant to the second.
    low = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(guess.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def current_window(
    moment: datetime, schedule: ScheduleSpec, zone: tzinfo, country: str | None
) -> tuple[datetime, datetime]:
    """The window ``moment`` is in, as (moment, its end); else the next one (opening, end)."""
    day = moment.astimezone(zone).date()
    for offset in range(SEARCH_DAYS):
        current = day + timedelta(days=offset)
        if not is_open_day(current, schedule, country):
            continue
        for span in schedule.hours:
            end = local_instant(current, span.end, zone)
            if moment >= end:
                continue
            start = local_instant(current, span.start, zone)
            if start < end:
                return max(moment, start), end
    raise ConfigError(
        f"schedule ({schedule.describe()}) has no opening within {SEARCH_DAYS} days of "
        f"{moment.isoformat()} — check its days and blackout dates in schedules.yaml"
    )


def next_opening(
    moment: datetime, schedule: ScheduleSpec, zone: tzinfo, country: str | None
) -> datetime:
    """``moment`` itself when the window is open then, else the next time it opens (UTC)."""
    return current_window(moment, schedule, zone, country)[0].astimezone(UTC)


def jitter_offset(lead_id: int, sequence: str, step_index: int, limit: timedelta) -> timedelta:
    """A fixed offset in whole seconds, 0 <= offset < limit, the same for the same touch."""
    seconds = int(limit.total_seconds())
    if seconds <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(f"{lead_id}:{sequence}:{step_index}".encode(), digest_size=8)
    return timedelta(seconds=int.from_bytes(digest.digest(), "big") % seconds)


def jittered_opening(
    moment: datetime,
    schedule: ScheduleSpec,
    zone: tzinfo,
    country: str | None,
    *,
    lead_id: int,
    sequence: str,
    step_index: int,
) -> datetime:
    """The next opening from ``moment`` plus the touch's jitter (within that window)."""
    opening, end = current_window(moment, schedule, zone, country)
    limit = min(schedule.jitter, end - opening)
    return (opening + jitter_offset(lead_id, sequence, step_index, limit)).astimezone(UTC)


def due_at(
    schedules: Schedules,
    schedule_name: str | None,
    start: datetime,
    wait: Wait,
    *,
    timezone: str | None,
    country: str | None,
    lead_id: int,
    sequence: str,
    step_index: int,
    sends: bool = True,
) -> datetime:
    """When a step is due: ``wait`` after ``start`` (business days skip the lead's holidays
    and blackout dates), then — for a step that sends — moved into the send window, plus
    jitter. Without a schedule it is ``add_wait`` in the lead's time zone."""
    zone = schedules.zone(timezone)
    schedule = schedules.by_name.get(schedule_name) if schedule_name else None
    if schedule is None:
        return add_wait(start, wait, zone)
    moment = add_wait(start, wait, zone, business_days(schedule, country))
    if not sends:
        return moment
    return jittered_opening(
        moment, schedule, zone, country, lead_id=lead_id, sequence=sequence, step_index=step_index
    )


def due_after(
    schedules: Schedules,
    spec: SequenceSpec,
    done_step: int,
    at: datetime,
    *,
    timezone: str | None,
    country: str | None,
    lead_id: int,
) -> datetime:
    """When the step after ``done_step`` (sent, or a task done at ``at``) is due: its wait, then
    the send window. After the last step: when the enrollment completes."""
    step = done_step + 1
    more = step < len(spec.steps)
    return due_at(
        schedules,
        spec.schedule,
        at,
        spec.steps[step].wait if more else spec.on_complete.after,
        timezone=timezone,
        country=country,
        lead_id=lead_id,
        sequence=spec.name,
        step_index=step,
        sends=more,
    )


__all__ = [
    "business_days",
    "country_code",
    "current_window",
    "due_after",
    "due_at",
    "is_holiday",
    "is_open_day",
    "jitter_offset",
    "jittered_opening",
    "local_instant",
    "next_opening",
    "public_holidays",
    "supported_countries",
]
