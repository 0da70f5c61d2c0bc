"""The first day someone is back, from an out-of-office text (English and German).

Labelling convention: "back on X", "returning X", "from X I will be back", "ab X wieder
erreichbar", "wieder am X" → X; "through X", "until X inclusive", "bis einschließlich X",
"after X" → the first working day after X; "until X" / "bis X" / "bis zum X" → the same, unless
X is a Monday ("away until Monday, 7 December" → that Monday): the sequence must not resume
while the notice still answers, nor on a weekend. A range "from A to B" / "A-B" → the first
working day after B, Monday or not. "until the end of June" / "bis Ende Juni" → 1 July; a
calendar week (KW, uge, vecka) → its Monday. Three sets written by fresh hands read "until X"
so; an earlier convention (X itself) resumed sequences on the last day of absence, or on a
Saturday. The brief for the evaluation sets states this convention since set N.
Each date mention is read with the nearest trigger word before it (within its clause), and with
what follows it ("… wieder im Büro", "… inclusive"). A return mention beats an "until" mention;
the first of each kind wins. Relative spans ("in two weeks", "in zwei Wochen") are left to
dateparser.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from worker.understanding.date_mentions import MONTHS, DateMention, find_dates
from worker.understanding.deferrals import deferral_date

_I = re.IGNORECASE
Kind = Literal["return", "until", "until_inclusive", "after", "start", "absent", "none"]

TRIGGERS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        "until_inclusive",
        re.compile(
            r"\b(through|thru|up to and including|bis einschließlich|bis einschl\.?|bis inkl\.?"
            r"|bis und mit"
            r"|bis inklusive|einschließlich|inklusive)(?=\W)",
            _I,
        ),
    ),
    ("until", re.compile(r"(?<!\w)(until|till|til|'til|up to|bis( zum| zur| am)?)\b", _I)),
    ("after", re.compile(r"\b(after|nach( dem| den)?|later than)\b", _I)),
    (
        "return",
        re.compile(
            r"\b(back|return(ing|s)?|return date|rückkehr\w*|zurück|wieder|again|reachable"
            r"|reopen\w*|erreichbar|available|first day|in the office|im büro|resum(e|ing)"
            r"|anwesend)\b",
            _I,
        ),
    ),
    (
        "start",
        re.compile(
            r"\b(from|as of|starting|beginning|effective|ab( dem| den)?|vom|von|seit|since)\b", _I
        ),
    ),
)
RANGE = re.compile(r"^\s*(to|-|\u2013|\u2014|bis)\s*$", _I)  # "Dec 1 to Dec 7", "1.12. - 7.12."
RETURN_WORDS = re.compile(
    r"\b(back|return\w*|reopen\w*|wieder|zurück|erreichbar|available|in the office|im büro"
    r"|im hause?|rückkehr|anwesend)\b",
    _I,
)
ABSENCE_WORDS = re.compile(
    r"\b(out of (the )?office|away|leave|vacation|holiday|urlaub|abwesend|nicht im büro"
    r"|elternzeit|unavailable|not available|nicht erreichbar|außer haus)\b",
    _I,
)
NEGATION = re.compile(
    r"\b(not|nicht|never|nie|no longer|nicht mehr)\W+(be\W+)?$|n't\W+(be\W+)?$", _I
)
INCLUSIVE_AFTER = re.compile(r"^\W{0,3}(inclusive(ly)?|inkl\.?|inklusive|einschließlich)\b", _I)
SENTENCE_BREAK = re.compile(r"[!?;]\s|(?<=[a-zäöüß]{4})\.\s+(?=[A-ZÄÖÜ])|\n\s*\n")
RELATIVE_SPAN = re.compile(
    r"\bin\s+(\d{1,2}|one|two|three|four|five|six|a|ein(em|er)?|zwei|drei|vier|fünf|sechs)\s+"
    r"(days?|weeks?|tag(en)?|wochen?)\b",
    _I,
)
GAP = 40  # characters allowed between a trigger word and its date
BACK_IN_MONTH = re.compile(
    r"\b(?:back|return(?:ing)?|zurück|wieder(?: da| im büro| erreichbar)?)(?:\s+[\w']+){0,3}?"
    r"\s+(?:in|im|ab|from)\s+"
    rf"({'|'.join(sorted(MONTHS, key=len, reverse=True))})\b\.?(?:\s+(20\d\d))?",
    _I,
)  # "back in June 2027", "zurück im Juni"
UNTIL_MONTH_END = re.compile(
    r"\b(?:until|till|through|bis)\s+(?:the\s+)?(?:end\s+of|ende)\s+(?:of\s+)?"
    rf"({'|'.join(sorted(MONTHS, key=len, reverse=True))})\b",
    _I,
)


def _clause_before(text: str, start: int) -> str:
    window = text[max(0, start - 120) : start]
    breaks = list(SENTENCE_BREAK.finditer(window))
    return window[breaks[-1].end() :] if breaks else window


def _clause_after(text: str, end: int) -> str:
    window = text[end : end + 80]
    found = SENTENCE_BREAK.search(window)
    window = window[: found.start()] if found else window
    return window.split("\n")[0] if window.strip() else window


def _negated(text: str, position: int) -> bool:
    return bool(NEGATION.search(text[max(0, position - 16) : position]))


def _kind(text: str, mention: DateMention, previous: DateMention | None, following: int) -> Kind:
    """How a date mention relates to the person's return (``following``: where the next
    mention starts)."""
    before = _clause_before(text, mention.start)
    if previous is not None and previous.end > mention.start - len(before):
        between = text[previous.end : mention.start]
        if RANGE.match(between):  # "from 28 Dec to 4 Jan": the 4th is the last day away
            return "until_inclusive"
        before = between
    after = _clause_after(text[:following], mention.end)
    nearest: tuple[int, Kind] | None = None
    for kind, pattern in TRIGGERS:
        for match in pattern.finditer(before):
            if len(before) - match.end() > GAP or (nearest and match.end() <= nearest[0]):
                continue
            negated = kind == "return" and _negated(before, match.start())
            nearest = (match.end(), "absent" if negated else kind)
    kind = nearest[1] if nearest else "none"
    if kind == "absent":  # "not available on X"
        return "none"
    if kind == "until" and INCLUSIVE_AFTER.match(after):
        return "until_inclusive"
    if kind in ("start", "none") and mention.kind != "holiday":  # "off for Christmas, back …"
        # "from Fri 5 Feb and back on Wed 10 Feb": that "back" is the next date's
        belongs_to_next = following < len(text) and mention.end + len(after) >= following
        back_after = (
            RETURN_WORDS.search(after) and not ABSENCE_WORDS.search(after) and not belongs_to_next
        )
        back_before = RETURN_WORDS.search(before) and not ABSENCE_WORDS.search(before)
        if back_after or (kind == "start" and back_before):
            return "return"
    return kind


@lru_cache(maxsize=1)
def _search_dates() -> Any:
    """dateparser's search, imported on first use (it takes about a second)."""
    from dateparser.search import search_dates

    return search_dates


def _relative(text: str, base: date, language: str) -> list[tuple[int, date]]:
    """Spans such as "in two weeks" / "in zwei Wochen", resolved with dateparser."""
    found: list[tuple[int, date]] = []
    for match in RELATIVE_SPAN.finditer(text):
        settings = {
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": datetime(base.year, base.month, base.day, 12),
            "DATE_ORDER": "DMY" if language == "de" else "MDY",
        }
        try:
            results = _search_dates()(match.group(0), languages=[language], settings=settings)
        except Exception:
            results = None
        if results:
            found.append((match.start(), results[0][1].date()))
    return found


def return_date(text: str, base: date, language: str = "en") -> date | None:
    """The first day the writer says they are back, or None when no date is given."""
    firsts: dict[Kind, tuple[int, date]] = {}
    previous: DateMention | None = None
    mentions = find_dates(text, base, language)
    for index, mention in enumerate(mentions):
        following = mentions[index + 1].start if index + 1 < len(mentions) else len(text)
        kind = _kind(text, mention, previous, following)
        previous = mention
        firsts.setdefault(kind, (mention.start, mention.day))
    if "return" in firsts:
        return firsts["return"][1]
    untils = [(firsts[k][0], k) for k in ("until", "until_inclusive") if k in firsts]
    if untils:
        kind = min(untils)[1]
        last = firsts[kind][1]
        if kind == "until" and last.weekday() == 0:  # "away until Monday": back that Monday
            return last
        return _next_working_day(last)
    if "after" in firsts:
        return _next_working_day(firsts["after"][1])
    away = [day for kind, (_, day) in firsts.items() if kind == "none"]
    if (
        away
        and ABSENCE_WORDS.search(text)
        and not RETURN_WORDS.search(ABSENCE_WORDS.sub(" ", text))
    ):
        # "Ich bin am 28. und 29. Dezember nicht im Büro": back after the last day named
        return _next_working_day(max(m.day for m in mentions))
    if match := BACK_IN_MONTH.search(text):
        month = MONTHS[match.group(1).lower().rstrip(".")]
        year = int(match.group(2)) if match.group(2) else None
        if year is None:
            year = base.year if month > base.month else base.year + 1
        return date(year, month, 1)
    if match := UNTIL_MONTH_END.search(text):
        month = MONTHS[match.group(1).lower().rstrip(".")]
        year = base.year if month >= base.month else base.year + 1
        return date(year + month // 12, month % 12 + 1, 1)
    relative = _relative(text, base, language)
    if relative:
        return relative[0][1]
    # "ab dem zweiten Quartal 2027 wieder für Sie da", "back early next year": read like a
    # deferral, in the sentences that say when they are back
    back = [part for part in re.split(r"[.!?\n]", text) if RETURN_WORDS.search(part)]
    return next((found for part in back if (found := deferral_date(part, base, language))), None)


def _next_working_day(last_away: date) -> date:
    """The first Monday-to-Friday after ``last_away``."""
    day = last_away + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
