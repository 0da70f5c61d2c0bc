"""Named send windows from ``schedules.yaml``: days, hours, jitter, holidays and blackout dates.

A sequence names one (``schedule: business-hours``); a sequence without one sends at any time.
The file is optional as long as no sequence names a schedule. Times are the lead's local wall
clock (the lead's ``timezone``, else ``default_timezone``, else UTC); see ``worker.timing.windows``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worker.authoring.yaml_source import Loc, YamlSyntaxError, line_for, load_with_lines
from worker.errors import ConfigError, NotFoundError, did_you_mean

SCHEDULES_FILE = "schedules.yaml"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60
MAX_BLACKOUT_DAYS = 366
MAX_JITTER = timedelta(hours=12)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_JITTER = re.compile(r"^(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)$", re.I)
_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")


@dataclass(frozen=True, order=True)
class Span:
    """Part of a day, in minutes after local midnight: ``start`` inclusive, ``end`` exclusive."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class ScheduleSpec(BaseModel):
    """One named send window as written in ``schedules.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: frozenset[int] = frozenset(range(5))  # Monday to Friday
    hours: tuple[Span, ...] = (Span(9 * 60, 17 * 60),)
    jitter: timedelta = timedelta(0)
    holidays: bool = True
    blackout: tuple[tuple[date, date], ...] = ()

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: object) -> frozenset[int]:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("days must be a list such as [mon, tue, wed, thu, fri]")
        days = set()
        for item in value:
            name = str(item).strip().lower()
            if name in DAY_NAMES:
                days.add(DAY_NAMES.index(name))
            elif name in FULL_DAY_NAMES:
                days.add(FULL_DAY_NAMES.index(name))
            else:
                raise ValueError(
                    f"day {item!r} is not one of {', '.join(DAY_NAMES)}"
                    f"{did_you_mean(name[:3], set(DAY_NAMES))}"
                )
        return frozenset(days)

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> tuple[Span, ...]:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("hours must be text such as '09:00-12:00, 13:30-17:00'")
        spans = sorted(parse_span(str(part)) for part in value)
        for before, after in itertools.pairwise(spans):
            if after.start < before.end:
                raise ValueError(f"hours {before} and {after} overlap")
        return tuple(spans)

    @field_validator("jitter", mode="before")
    @classmethod
    def _jitter(cls, value: object) -> timedelta:
        if value == 0 and not isinstance(value, bool):
            return timedelta(0)
        match = _JITTER.match(str(value).strip()) if isinstance(value, str) else None
        if match is None:
            raise ValueError(
                f"jitter {value!r} is not understood — write e.g. '20 minutes', '90 seconds' or "
                "'1 hour'"
            )
        amount, unit = int(match[1]), match[2].lower()
        seconds = amount * {"s": 1, "m": 60, "h": 3600}[unit[0]]
        if timedelta(seconds=seconds) > MAX_JITTER:
            raise ValueError("jitter must be 12 hours or less")
        return timedelta(seconds=seconds)

    @field_validator("blackout", mode="before")
    @classmethod
    def _blackout(cls, value: object) -> tuple[tuple[date, date], ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ValueError(
                "blackout must be a list of dates and ranges, e.g. [2026-12-24, "
                '"2027-08-02..2027-08-13"]'
            )
        return tuple(parse_blackout(item) for item in value)

    def describe(self) -> str:
        """A one-line summary, e.g. ``mon,tue,wed,thu,fri 09:00-12:00, 13:30-17:00``."""
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {', '.join(str(span) for span in self.hours)}"


def parse_span(text: str) -> Span:
    """``"09:00-12:00"`` → Span(540, 720); ``24:00`` may end a span."""
    match = _SPAN.match(text.strip())
    if match is None:
        raise ValueError(f"hours {text.strip()!r} are not understood — write e.g. '09:00-17:00'")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_h > 23 or start_m > 59 or end_m > 59 or end > MINUTES_PER_DAY:
        raise ValueError(f"hours {text.strip()!r}: times run from 00:00 to 24:00")
    if end <= start:
        raise ValueError(
            f"hours {text.strip()!r} end before they start — a window over midnight is two "
            "spans, e.g. '22:00-24:00, 00:00-02:00'"
        )
    return Span(start, end)


def parse_blackout(item: object) -> tuple[date, date]:
    """A date (``2026-12-24``) or an inclusive range (``"2027-08-02..2027-08-13"``)."""
    if isinstance(item, datetime):
        raise ValueError(f"blackout {item} has a time of day; write only the date")
    if isinstance(item, date):
        return item, item
    text = str(item).strip()
    match = _RANGE.match(text)
    try:
        if match is None:
            day = date.fromisoformat(text)
            return day, day
        first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
    except ValueError:
        raise ValueError(
            f'blackout {text!r} is not a date (2026-12-24) or a range ("2027-08-02..2027-08-13")'
        ) from None
    if last < first:
        raise ValueError(f"blackout {text!r} ends before it starts")
    if (last - first).days >= MAX_BLACKOUT_DAYS:
        raise ValueError(f"blackout {text!r} is longer than a year")
    return first, last


class _SchedulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_timezone: str | None = None
    schedules: dict[str, ScheduleSpec] = Field(default_factory=dict)

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and zone_or_none(value) is None:
            raise ValueError(f"time zone {value!r} is unknown — use a name such as Europe/Berlin")
        return value

    @field_validator("schedules", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        if value is None:
            return {}
        if isinstance(value, dict):
            for name in value:
                if not isinstance(name, str) or not _NAME.match(name):
                    raise ValueError(
                        f"schedule name {name!r} must be lowercase letters, digits and dashes, "
                        "e.g. 'business-hours'"
                    )
        return value


def zone_or_none(name: str | None) -> tzinfo | None:
    """The time zone called ``name``, or None when it is unset or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class Schedules:
    """The named schedules of a project and its default time zone."""

    by_name: Mapping[str, ScheduleSpec] = field(default_factory=dict)
    default_timezone: str | None = None
    source: str = SCHEDULES_FILE
    found: bool = False

    def get(self, name: str) -> ScheduleSpec:
        """The schedule called ``name``; NotFoundError with a suggestion otherwise."""
        schedule = self.by_name.get(name)
        if schedule is None:
            raise NotFoundError(self.unknown(name))
        return schedule

    def unknown(self, name: str) -> str:
        """Why ``name`` cannot be used, and what to do."""
        if not self.found:
            return (
                f"schedule {name!r} is not defined: {self.source} not found — create it (see "
                "docs/authoring.md, 'Send windows') or remove 'schedule:'"
            )
        known = ", ".join(sorted(self.by_name)) or "none"
        return (
            f"schedule {name!r} is not in {self.source}{did_you_mean(name, set(self.by_name))}"
            f" (known: {known})"
        )

    def zone(self, lead_timezone: str | None) -> tzinfo:
        """The lead's time zone, else the default time zone, else UTC."""
        return zone_or_none(lead_timezone) or zone_or_none(self.default_timezone) or UTC


class ScheduleFileError(Exception):
    """Raised when ``schedules.yaml`` cannot be used; carries the line to report."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_schedules(path: Path, shown: str | None = None) -> Schedules:
    """Read ``schedules.yaml`` (no file: no schedules); ConfigError as ``file:line: message``."""
    shown = shown or path.name
    try:
        return read_schedules(path, shown)
    except ScheduleFileError as exc:
        raise ConfigError(f"{shown}:{exc.line}: {exc.message}") from None


def read_schedules(path: Path, shown: str) -> Schedules:
    """Read ``schedules.yaml``; ScheduleFileError with the line of the first problem."""
    if not path.is_file():
        return Schedules(source=shown)
    try:
        data, lines = load_with_lines(path)
    except YamlSyntaxError as exc:
        raise ScheduleFileError(exc.line, exc.message) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScheduleFileError(1, f"cannot read file: {exc}") from None
    if data is None:
        return Schedules(source=shown, found=True)
    try:
        parsed = _SchedulesFile.model_validate(data)
    except ValidationError as exc:
        raise _problem(lines, exc.errors()[0]) from None
    return Schedules(
        by_name=dict(parsed.schedules),
        default_timezone=parsed.default_timezone,
        source=shown,
        found=True,
    )


_KNOWN = {
    (): ["default_timezone", "schedules"],
    ("schedules", "*"): ["days", "hours", "jitter", "holidays", "blackout"],
}


def _problem(lines: dict[Loc, int], error: Any) -> ScheduleFileError:
    loc: Loc = tuple(error["loc"])
    where = ".".join(str(part) for part in loc)
    if error["type"] == "extra_forbidden":
        known = _KNOWN.get(("schedules", "*") if len(loc) == 3 else (), [])
        hint = did_you_mean(str(loc[-1]), set(known)) or f" (allowed: {', '.join(known)})"
        return ScheduleFileError(line_for(lines, loc), f"unknown key {where!r}{hint}")
    if not loc:
        return ScheduleFileError(
            1, "the file must be a mapping with 'default_timezone' and 'schedules'"
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    return ScheduleFileError(line_for(lines, loc), f"{where}: {message}")


__all__ = [
    "SCHEDULES_FILE",
    "ScheduleFileError",
    "ScheduleSpec",
    "Schedules",
    "Span",
    "load_schedules",
    "parse_blackout",
    "parse_span",
    "read_schedules",
    "zone_or_none",
]
