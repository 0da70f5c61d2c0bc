"""Find calendar dates written in English or German text, resolved against a base date.

Handles "Monday, December 7", "December 7th", "7 December 2026", "07.12.2026", "7.12.",
"18. Dezember", "Montag, den 7. Dezember", ISO "2027-01-04", "12/7" (month first in English,
day first in German), weekdays ("Monday", "next Monday", "nächsten Montag"), "tomorrow",
"morgen", "next week" and "nächste Woche". A date without a year that would lie before the base
date means next year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_I = re.IGNORECASE

MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "januar": 1, "jänner": 1, "jaenner": 1,
    "february": 2, "feb": 2, "februar": 2, "feber": 2,
    "march": 3, "mar": 3, "märz": 3, "maerz": 3, "mär": 3, "mrz": 3,
    "april": 4, "apr": 4,
    "may": 5, "mai": 5,
    "june": 6, "jun": 6, "juni": 6,
    "july": 7, "jul": 7, "juli": 7,
    "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "oktober": 10, "okt": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12, "dezember": 12, "dez": 12,
}  # fmt: skip
WEEKDAYS: dict[str, int] = {
    "monday": 0, "mon": 0, "montag": 0, "mo": 0,
    "tuesday": 1, "tue": 1, "tues": 1, "dienstag": 1, "di": 1,
    "wednesday": 2, "wed": 2, "mittwoch": 2, "mi": 2,
    "thursday": 3, "thu": 3, "thurs": 3, "donnerstag": 3, "do": 3,
    "friday": 4, "fri": 4, "freitag": 4, "fr": 4,
    "saturday": 5, "sat": 5, "samstag": 5, "sonnabend": 5, "sa": 5,
    "sunday": 6, "sun": 6, "sonntag": 6, "so": 6,
}  # fmt: skip
FULL_WEEKDAYS = [name for name in WEEKDAYS if len(name) > 4]

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAYNAME = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_PREFIX = rf"(?:(?:{_DAYNAME})\.?,?\s+(?:(?:the|den|dem)\s+)?)?"
_ORD = r"(?:st|nd|rd|th|\.)?"

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iso", re.compile(r"(?<![\d.])(?P<y>20\d\d)-(?P<m>[01]?\d)-(?P<d>[0-3]?\d)(?![\d])")),
    (
        "dmy_named",
        re.compile(
            rf"\b{_PREFIX}(?P<d>[0-3]?\d){_ORD}\s*(?:of\s+|-)?(?P<m>{_MONTH})\b\.?"
            r"(?:,?[\s-]*(?P<y>20\d\d)\b)?",
            _I,
        ),
    ),
    (
        "mdy_named",
        re.compile(
            rf"\b{_PREFIX}(?P<m>{_MONTH})\b\.?\s+(?:the\s+)?(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\b"
            r"(?![.:]\d)(?:,?\s*(?P<y>20\d\d)\b)?",
            _I,
        ),
    ),
    (
        "dotted",
        re.compile(
            rf"(?:\b{_PREFIX})?(?<![\d.])(?P<d>[0-3]?\d)\.\s?(?P<m>[01]?\d)\."
            r"(?:\s?(?P<y>20\d\d)|(?P<y2>\d\d))?(?![\d:])",
            _I,
        ),
    ),
    (
        "slashed",
        re.compile(
            rf"(?:\b{_PREFIX})?(?<![\d/])(?!24/7\b)(?P<a>[0-3]?\d)/(?P<b>[0-3]?\d)"
            r"(?:/(?P<y>(?:20)?\d\d))?(?![\d/])",
            _I,
        ),
    ),
    (
        "weekday",
        re.compile(
            r"\b(?:(?P<next>next|this|coming|nächsten|nächster|nächste|kommenden|kommender"
            r"|diesen|dieser)\s+)?(?P<w>" + "|".join(FULL_WEEKDAYS) + r")\b",
            _I,
        ),
    ),
    (
        "ordinal_day",
        re.compile(rf"\b{_PREFIX}(?:the\s+)?(?P<d>[0-3]?\d)(?:st|nd|rd|th)\b", _I),
    ),
    (
        "calendar_week",
        re.compile(r"\b(?:kw|kalenderwoche|calendar week|cw)\s?(?P<w>[0-5]?\d)\b", _I),
    ),
    ("tomorrow", re.compile(r"\b(?:tomorrow|(?-i:morgen)|übermorgen|day after tomorrow)\b", _I)),
    ("next_week", re.compile(r"\b(?:next week|nächste[rn]? woche|kommende[rn]? woche)\b", _I)),
)


@dataclass(frozen=True)
class DateMention:
    """A date found in text: where it is and which day it means."""

    start: int
    end: int
    day: date
    text: str


def _rolled(year: int | None, month: int, day: int, base: date) -> date | None:
    """The date; without a year, this year's or (if already past) next year's."""
    if year is not None and year < 100:
        year += 2000
    try:
        found = date(year or base.year, month, day)
    except ValueError:
        return None
    if year is None and found < base:
        try:
            found = date(base.year + 1, month, day)
        except ValueError:
            return None
    return found


def _next_weekday(weekday: int, base: date) -> date:
    ahead = (weekday - base.weekday()) % 7 or 7
    return base + timedelta(days=ahead)


def _slashed(first: int, second: int, year: int | None, base: date, language: str) -> date | None:
    """Day first in German; in English month first, unless only day-first is a date or it
    gives the nearer date from the base on (absences are short: 04/01 in December is Jan 4)."""
    day_first = _rolled(year, second, first, base)
    if language == "de" or first > 12:
        return day_first
    month_first = _rolled(year, first, second, base)
    if day_first is None or month_first is None or second > 12:
        return month_first or day_first
    ahead = [d for d in (month_first, day_first) if d >= base]
    return min(ahead) if ahead else month_first


def _ordinal_day(day: int, base: date) -> date | None:
    """ "the 7th": this month's, or next month's when already past."""
    for offset in range(3):
        month = (base.month - 1 + offset) % 12 + 1
        year = base.year + (base.month - 1 + offset) // 12
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if found >= base:
            return found
    return None


def _calendar_week(week: int, base: date) -> date | None:
    """Monday of ISO week ``week``; next year's when this year's has passed."""
    for year in (base.year, base.year + 1):
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError:
            continue
        if monday + timedelta(days=6) >= base:
            return monday
    return None


def _resolve(kind: str, match: re.Match[str], base: date, language: str) -> date | None:
    groups = match.groupdict()
    digits = groups.get("y") or groups.get("y2")
    year = int(digits) if digits else None
    if kind in ("iso", "dotted"):
        return _rolled(year, int(groups["m"]), int(groups["d"]), base)
    if kind in ("dmy_named", "mdy_named"):
        month = MONTHS[groups["m"].lower()]
        return _rolled(year, month, int(groups["d"]), base)
    if kind == "slashed":
        return _slashed(int(groups["a"]), int(groups["b"]), year, base, language)
    if kind == "ordinal_day":
        return _ordinal_day(int(groups["d"]), base)
    if kind == "calendar_week":
        return _calendar_week(int(groups["w"]), base)
    if kind == "weekday":
        return _next_weekday(WEEKDAYS[groups["w"].lower()], base)
    if kind == "tomorrow":
        word = match.group(0).lower()
        return base + timedelta(days=2 if word in ("übermorgen", "day after tomorrow") else 1)
    if kind == "next_week":
        return base + timedelta(days=7 - base.weekday())
    return None


_ORDINAL_WORDS = [
    *("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"),
    *("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth"),
    *("seventeenth", "eighteenth", "nineteenth", "twentieth"),
]
_ORDINAL_NUMBERS = {word: n for n, word in enumerate(_ORDINAL_WORDS, 1)}
_ORDINAL_NUMBERS.update(
    {f"twenty-{word}": 20 + n for n, word in enumerate(_ORDINAL_WORDS[:9], 1)}
    | {"thirtieth": 30, "thirty-first": 31}
)
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORDINAL_NAMES = "|".join(sorted(_ORDINAL_NUMBERS, key=len, reverse=True))
_ORDINAL_BEFORE = re.compile(
    rf"\b({_ORDINAL_NAMES})\b(?=\s+(?:of\s+)?(?:{_MONTH_NAMES})\b)", _I
)  # "the second of February"
_ORDINAL_AFTER = re.compile(rf"\b((?:{_MONTH_NAMES})\s+)({_ORDINAL_NAMES})\b", _I)  # "May third"
_SUFFIX = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}


def _digits(word: str) -> str:
    """ "second" → "2nd   ": the same length, so positions in the text stay where they were."""
    n = _ORDINAL_NUMBERS[word.lower()]
    return f"{n}{_SUFFIX.get(n, 'th')}".ljust(len(word))


def find_dates(text: str, base: date, language: str = "en") -> list[DateMention]:
    """Every date mentioned in ``text``, in order; overlapping matches keep the longest.
    Ordinal words ("the second of February") count as their numbers."""
    text = _ORDINAL_BEFORE.sub(lambda m: _digits(m.group(1)), text)
    text = _ORDINAL_AFTER.sub(lambda m: m.group(1) + _digits(m.group(2)), text)
    found: list[DateMention] = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            day = _resolve(kind, match, base, language)
            if day is not None:
                found.append(DateMention(match.start(), match.end(), day, match.group(0)))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[DateMention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            if mention.end - mention.start > kept[-1].end - kept[-1].start:
                kept[-1] = mention
            continue
        kept.append(mention)
    return kept
