"""Find calendar dates written in English or German text, resolved against a base date.

Handles "Monday, December 7", "December 7th", "7 December 2026", "07.12.2026", "7.12.",
"18. Dezember", "Montag, den 7. Dezember", ISO "2027-01-04", "12/7" (month first in English,
day first in German), weekdays ("Monday", "next Monday", "nächsten Montag"), "tomorrow",
"morgen", "next week" and "nächste Woche". A date without a year that would lie before the base
date means next year.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from worker.understanding.literals import PatternGate

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
# A calendar week: German, English, Danish/Norwegian ("uge", "uke"), Swedish, Dutch, Finnish.
WEEK_WORDS = r"kw|kalenderwoche|calendar week|cw|uge|uke|vecka|veckan|v\.|viikko|viikolla"
_FULL_DAYS = "|".join(name for name in WEEKDAYS if len(name) > 4)
_NTHS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1,
    "erst": 1, "zweit": 2, "dritt": 3, "viert": 4, "letzt": -1,
}  # fmt: skip
_NTH = r"first|second|third|fourth|last|(?:erst|zweit|dritt|viert|letzt)(?:e[nmrs]?)"


def _easter(year: int) -> date:
    """Easter Sunday (Gregorian; the anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _fixed(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


def _from_easter(days: int) -> Callable[[int], date]:
    return lambda year: _easter(year) + timedelta(days=days)


# Holidays and feast days people date their absence by ("nach Ostern", "after Paddy's Day").
# Christmas counts as its second day, when offices in DE/AT/CH/UK/IE open again after it.
HOLIDAYS: dict[str, Callable[[int], date]] = {
    "neujahr": _fixed(1, 1), "new year's day": _fixed(1, 1), "berchtoldstag": _fixed(1, 2),
    "heilige drei könige": _fixed(1, 6), "heiligen drei königen": _fixed(1, 6),
    "heilige dreikönige": _fixed(1, 6), "dreikönigstag": _fixed(1, 6), "dreikönig": _fixed(1, 6),
    "epiphany": _fixed(1, 6), "australia day": _fixed(1, 26), "waitangi day": _fixed(2, 6),
    "st. patrick's day": _fixed(3, 17), "st patrick's day": _fixed(3, 17),
    "saint patrick's day": _fixed(3, 17), "paddy's day": _fixed(3, 17),
    "patrick's day": _fixed(3, 17), "king's day": _fixed(4, 27), "koningsdag": _fixed(4, 27),
    "may day": _fixed(5, 1), "maifeiertag": _fixed(5, 1), "independence day": _fixed(7, 4),
    "bundesfeier": _fixed(8, 1), "tag der deutschen einheit": _fixed(10, 3),
    "reformationstag": _fixed(10, 31), "allerheiligen": _fixed(11, 1),
    "all saints' day": _fixed(11, 1), "mariä empfängnis": _fixed(12, 8),
    "heiligabend": _fixed(12, 24), "christmas eve": _fixed(12, 24),
    "weihnachten": _fixed(12, 26), "weihnachtsfeiertage": _fixed(12, 26),
    "christmas": _fixed(12, 26), "xmas": _fixed(12, 26), "boxing day": _fixed(12, 26),
    "st. stephen's day": _fixed(12, 26), "stephanstag": _fixed(12, 26),
    "stefanitag": _fixed(12, 26), "silvester": _fixed(12, 31),
    "new year's eve": _fixed(12, 31), "hogmanay": _fixed(12, 31),
    "thanksgiving": _thanksgiving, "rosenmontag": _from_easter(-48),
    "faschingsdienstag": _from_easter(-47), "shrove tuesday": _from_easter(-47),
    "aschermittwoch": _from_easter(-46), "ash wednesday": _from_easter(-46),
    "karfreitag": _from_easter(-2), "good friday": _from_easter(-2),
    "ostersonntag": _from_easter(0), "easter sunday": _from_easter(0),
    "ostermontag": _from_easter(1), "easter monday": _from_easter(1),
    "ostern": _from_easter(0), "easter": _from_easter(0),
    "christi himmelfahrt": _from_easter(39), "auffahrt": _from_easter(39),
    "ascension day": _from_easter(39), "pfingstmontag": _from_easter(50),
    "whit monday": _from_easter(50), "pfingsten": _from_easter(49),
    "whitsun": _from_easter(49), "pentecost": _from_easter(49),
    "fronleichnam": _from_easter(60), "corpus christi": _from_easter(60),
    "sinterklaas": _fixed(12, 5), "kerstmis": _fixed(12, 26), "kerst": _fixed(12, 26),
    "påsk": _from_easter(0), "påske": _from_easter(0), "pasen": _from_easter(0),
    "kristi himmelfärd": _from_easter(39), "kristi himmelfärdsdag": _from_easter(39),
    "kristi himmelfartsdag": _from_easter(39), "hemelvaart": _from_easter(39),
    "hemelvaartsdag": _from_easter(39), "pingst": _from_easter(49), "pinse": _from_easter(49),
    "pinksteren": _from_easter(49), "trettondagen": _fixed(1, 6), "helligtrekonger": _fixed(1, 6),
}  # fmt: skip
_HOLIDAY_NAMES = "|".join(
    re.escape(name).replace("'", "['\u2019]?").replace(r"\ ", r"\s+")
    for name in sorted(HOLIDAYS, key=len, reverse=True)
)

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
        re.compile(rf"\b(?:{WEEK_WORDS})\s?(?P<w>[0-5]?\d)\b", _I),
    ),
    (
        "week_end",
        re.compile(
            r"\b(?:ende|end of)\s+(?:der\s+|the\s+)?(?:kw|kalenderwoche|calendar week|week|cw)"
            r"\s?(?P<w>[0-5]?\d)\b",
            _I,
        ),
    ),
    ("week_number", re.compile(r"\b(?:in|ab|from|by|bis|until)\s+week\s(?P<w>[0-5]?\d)\b", _I)),
    (
        "nth_weekday",
        re.compile(
            rf"\b(?P<n>{_NTH})\s+(?P<w>{_FULL_DAYS})\s+(?:in|of|im|des)\s+(?P<m>{_MONTH})\b\.?"
            r"(?:\s+(?P<y>20\d\d)\b)?",
            _I,
        ),
    ),
    ("holiday", re.compile(rf"\b(?P<h>{_HOLIDAY_NAMES})(?:\s+(?P<y>20\d\d)\b)?", _I)),
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
    kind: str = ""


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


def _nth_weekday(groups: dict[str, str], year: int | None, base: date) -> date | None:
    """ "the first Monday in February" / "am ersten Montag im Februar"."""
    word = groups["n"].lower()
    nth = _NTHS[re.sub(r"e[nmrs]?$", "", word) if word not in _NTHS else word]
    weekday = WEEKDAYS[groups["w"].lower()]
    month = MONTHS[groups["m"].lower().rstrip(".")]
    for candidate in [year] if year else [base.year, base.year + 1]:
        first = date(candidate, month, 1)
        if nth > 0:
            found = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
        else:
            last = date(candidate + month // 12, month % 12 + 1, 1) - timedelta(days=1)
            found = last - timedelta(days=(last.weekday() - weekday) % 7)
        if found.month == month and (year or found >= base):
            return found
    return None


def _holiday(name: str, year: int | None, base: date) -> date | None:
    """The holiday's date: in ``year``, or its next one from ``base`` on."""
    key = re.sub(r"\s+", " ", name.lower().replace("\u2019", "'"))
    key = next((k for k in HOLIDAYS if k.replace("'", "") == key.replace("'", "")), key)
    rule = HOLIDAYS.get(key)
    if rule is None:
        return None
    if year:
        return rule(year)
    found = rule(base.year)
    return found if found >= base else rule(base.year + 1)


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
    if kind in ("calendar_week", "week_number"):
        return _calendar_week(int(groups["w"]), base)
    if kind == "week_end":  # "bis Ende KW 47": its Friday
        monday = _calendar_week(int(groups["w"]), base)
        return monday + timedelta(days=4) if monday else None
    if kind == "nth_weekday":
        return _nth_weekday(groups, year, base)
    if kind == "holiday":
        return _holiday(groups["h"], year, base)
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
_GERMAN_ORDINALS = [
    *("erst", "zweit", "dritt", "viert", "fünft", "sechst", "siebt", "acht", "neunt", "zehnt"),
    *("elft", "zwölft", "dreizehnt", "vierzehnt", "fünfzehnt", "sechzehnt", "siebzehnt"),
    *("achtzehnt", "neunzehnt", "zwanzigst"),
]
_ORDINAL_NUMBERS |= {
    f"{stem}{end}": n for n, stem in enumerate(_GERMAN_ORDINALS, 1) for end in ("e", "en", "er")
}
_ORDINAL_NUMBERS |= (
    {
        f"{unit}undzwanzigst{end}": 20 + n
        for n, unit in enumerate(
            ("ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"), 1
        )
        for end in ("e", "en", "er")
    }
    | {f"dreißigst{end}": 30 for end in ("e", "en", "er")}
    | {f"einunddreißigst{end}": 31 for end in ("e", "en", "er")}
)
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
_ORDINALS = PatternGate([_ORDINAL_BEFORE, _ORDINAL_AFTER])
_PATTERNS = PatternGate([pattern for _kind, pattern in PATTERNS])
# What every match of a pattern without literals holds (a digit, a dot or slash, a digit):
# found in C in a few microseconds, where the pattern itself takes a hundred.
_HINTS = {
    "dotted": re.compile(r"\d\.\s?\d"),
    "slashed": re.compile(r"\d/\d"),
    "ordinal_day": re.compile(r"\d(?:st|nd|rd|th)", _I),
}


def _digits(word: str) -> str:
    """ "second" → "2nd   ": the same length, so positions in the text stay where they were."""
    n = _ORDINAL_NUMBERS[word.lower()]
    return f"{n}{_SUFFIX.get(n, 'th')}".ljust(len(word))


def find_dates(text: str, base: date, language: str = "en") -> list[DateMention]:
    """Every date mentioned in ``text``, in order; overlapping matches keep the longest.
    Ordinal words ("the second of February") count as their numbers."""
    if 0 in _ORDINALS.possible(text):
        text = _ORDINAL_BEFORE.sub(lambda m: _digits(m.group(1)), text)
    if 1 in _ORDINALS.possible(text):
        text = _ORDINAL_AFTER.sub(lambda m: m.group(1) + _digits(m.group(2)), text)
    possible = _PATTERNS.possible(text)  # most texts hold no month, weekday or holiday name
    found: list[DateMention] = []
    for number, (kind, pattern) in enumerate(PATTERNS):
        hint = _HINTS.get(kind)
        if number not in possible or (hint is not None and not hint.search(text)):
            continue
        for match in pattern.finditer(text):
            day = _resolve(kind, match, base, language)
            if day is not None:
                found.append(DateMention(match.start(), match.end(), day, match.group(0), kind))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[DateMention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            if mention.end - mention.start > kept[-1].end - kept[-1].start:
                kept[-1] = mention
            continue
        kept.append(mention)
    return kept
