"""When a "not now" reply asks us to come back: the first day of the time it names.

"Try me in March" → 1 March; "mid-March" / "Mitte März" → 15 March; "after March" → 1 April;
"next quarter" / "nächstes Quartal" / "Q3" → the quarter's first day; "KW 12" / "week 12" →
that week's Monday; "in the autumn" / "im Herbst" → 1 September; "next month" → its first
day; "next year" / "nächstes Jahr" → 1 January; "in two weeks" / "in 3 Monaten" → that far
from the message's date; "after the fair on 14 March" or "our year ends 31 March" → the day
after. The sentence that asks us to come back ("try me …", "melden Sie sich …") is read first,
so the busy period it explains ("through the end of February") does not count. Times already
past mean next year. None when nothing can be pinned down (the reaction uses its default).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from worker.understanding.date_mentions import MONTHS, WEEK_WORDS, find_dates

_I = re.IGNORECASE
_MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
_MONTH = re.compile(
    rf"\b(?:in|im|ab|from|after|nach|until|bis|anfang|early|mid|ende|end of|late)?\s*"
    rf"(?:(?:the\s+)?(?:beginning|start|middle|end)\s+of\s+)?({_MONTH_WORDS})\b\.?"
    r"(?:\s+(20\d\d)\b)?(?!\s*\d)",
    _I,
)
_AFTER_MONTH = re.compile(rf"\b(?:after|nach)\s+({_MONTH_WORDS})\b", _I)
_QUARTER = re.compile(
    r"\b(?:Q|quarter\s*|quartal\s*)([1-4])\b|\b([1-4])\.\s*quartal\b"
    r"|\b(first|second|third|fourth|erste[nms]?|zweite[nms]?|dritte[nms]?|vierte[nms]?)\s+"
    r"(?:quarter|quartal)\b",
    _I,
)
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "erst": 1, "zweit": 2}
_QUARTER_WORDS |= {"dritt": 3, "viert": 4}
_START = re.compile(r"\b(ab|from|starting|beginning|in|im|after|nach|anfang|early)\W*$", _I)
_ONWARDS = re.compile(r"\s*(onwards?|on\b|an\b)", _I)  # "April onwards", "von April an"
_NEXT_QUARTER = re.compile(r"\b(next|nächste[nms]?|kommende[nms]?)\s+(quarter|quartal)\b", _I)
_WEEK = re.compile(rf"\b(?:{WEEK_WORDS}|week)\s*(\d{{1,2}})\b", _I)
_NEXT_YEAR = re.compile(
    r"\b(next year|nächste[ns]? jahr(es)?|kommende[ns]? jahr(es)?|new year|neue[ns]? jahr(es)?)\b",
    _I,
)
_RELATIVE = re.compile(
    r"\b(?:in|nach|after)\s+(?:about\s+|etwa\s+|ca\.\s+)?"
    r"(\d+|a|an|one|two|three|four|six|ein(?:em|er)?|zwei|drei|vier|sechs)\s+"
    r"(weeks?|wochen?|months?|monate?n?)\b",
    _I,
)
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "ein": 1, "einem": 1, "einer": 1, "two": 2, "zwei": 2,
    "three": 3, "drei": 3, "four": 4, "vier": 4, "six": 6, "sechs": 6,
}  # fmt: skip
_SEASONS = {
    "spring": 3, "frühjahr": 3, "frühling": 3, "summer": 6, "sommer": 6,
    "autumn": 9, "fall": 9, "herbst": 9, "winter": 12,
}  # fmt: skip
_SEASON = re.compile(
    r"\b(?:in|im|over|über|during|this|next|nächsten|kommenden|den)\s+(?:the\s+)?"
    rf"({'|'.join(_SEASONS)})\b",
    _I,
)
_AFTER = re.compile(
    r"\b(after|nach|following|once|sobald|ends?|endet|closes?|abgeschlossen)\b[^.!?\n]*$", _I
)
_AFTER_EVENT = re.compile(r"\b(after|nach|following|once|sobald)\b", _I)
_ENDS_AFTER = re.compile(r"^[^.!?\n]{0,15}\b(ends?|endet|closes?|is over|vorbei)\b", _I)
_MID = re.compile(rf"\b(?:mid|mitte|middle of)[\s-]+({_MONTH_WORDS})\b", _I)
_NEXT_MONTH = re.compile(r"\b(next month|nächsten monat|kommenden monat)\b", _I)
_CALLBACK = re.compile(
    r"\b(try|contact|reach|get back|come back|circle back|follow up|ping|touch base|reconnect"
    r"|connect (with me|again)|chase|nudge|drop me a (line|note|mail)|give me a (shout|call|ring)"
    r"|revisit|check in|talk|speak|write|email|mail|get in touch|pick (this|it) up|ask|regroup"
    r"|let's|lass uns|lassen sie uns"
    r"|melden|meld dich|melde dich|meldet euch|kontaktieren|schreiben|sprechen|anrufen|wieder"
    r"|erneut|noch ?mal|nochmals"
    r"|gerne|aufnehmen|angehen|zurückkommen)\b(?!-)",  # not "write-off"
    _I,
)
_THEN = re.compile(r"\b(then|at that point|dann|danach|after that|afterwards)\b", _I)
_AFTERWARDS = re.compile(r"\b(danach|after that|afterwards)\b", _I)
_SENTENCE_END = re.compile(r"[!?]+\s|(?<=[^\d\s]{3})\.\s+(?=[A-ZÄÖÜ])|\n")


def _next_first(month: int, base: date) -> date:
    """The first day of ``month`` after ``base`` (this year's if still ahead)."""
    found = date(base.year, month, 1)
    return found if found > base else date(base.year + 1, month, 1)


def _quarter_start(quarter: int, base: date) -> date:
    return _next_first(3 * (quarter - 1) + 1, base)


def _add_months(base: date, months: int) -> date:
    """``base`` moved by whole months (the day kept where the month has it)."""
    month = base.month - 1 + months
    year, month = base.year + month // 12, month % 12 + 1
    for day in (base.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def deferral_date(text: str, base: date, language: str = "en") -> date | None:
    """The first day the reply asks us to come back, or None."""
    sentences = _SENTENCE_END.split(text)
    asking = [s for s in sentences if _CALLBACK.search(s)]
    for part in asking:
        found = _first_time(part, base, language)
        if found is None and _THEN.search(part) and not _AFTER_EVENT.search(part):
            # "… in the next financial year, i.e. April onwards. Please connect with me then."
            index = sentences.index(part)
            earlier = [s for s in sentences[:index] if s.strip()]
            found = _first_time(earlier[-1], base, language) if earlier else None
            if found and _AFTERWARDS.search(part) and _is_day(earlier[-1], found, base, language):
                found += timedelta(days=1)  # "… until our fair on 18 March. Danach gerne."
        if found is not None:
            return found
    found = _first_time(text, base, language)
    if found is not None and any(_AFTER_EVENT.search(part) for part in asking):
        # "come back after the fair" and elsewhere "our fair on 11 March": the day after it
        return found + timedelta(days=1) if _is_day(text, found, base, language) else found
    return found


def _is_day(text: str, found: date, base: date, language: str) -> bool:
    """Whether ``found`` is a calendar date written in ``text`` (not a month or a season)."""
    return any(mention.day == found for mention in find_dates(text, base, language))


def _first_time(text: str, base: date, language: str) -> date | None:
    for mention in find_dates(text, base, language):
        if mention.day > base:
            after = _AFTER.search(text[max(0, mention.start - 60) : mention.start])
            ends = _ENDS_AFTER.match(text[mention.end :])
            return mention.day + timedelta(days=1) if after or ends else mention.day
    if match := _WEEK.search(text):
        week = int(match.group(1))
        if 1 <= week <= 53:
            year = base.year if date.fromisocalendar(base.year, week, 1) > base else base.year + 1
            return date.fromisocalendar(year, min(week, 52), 1)
    if _NEXT_QUARTER.search(text):
        return _quarter_start((base.month - 1) // 3 + 2 if base.month < 10 else 1, base)
    if match := _QUARTER.search(text):
        if match.group(3):
            word = match.group(3).lower().rstrip("nms").rstrip("e")
            return _quarter_start(_QUARTER_WORDS.get(word, 1), base)
        return _quarter_start(int(match.group(1) or match.group(2)), base)
    if match := _MID.search(text):
        return _next_first(MONTHS[match.group(1).lower()], base).replace(day=15)
    if match := _AFTER_MONTH.search(text):
        return _add_months(_next_first(MONTHS[match.group(1).lower()], base), 1)
    months = list(_MONTH.finditer(text))
    if months:  # "bis Ende März …, gerne ab April": a month we may start in beats one to wait out
        starts = [
            m
            for m in months
            if _START.search(text[max(0, m.start(1) - 20) : m.start(1)])
            or _ONWARDS.match(text[m.end() :])
        ]
        match = (starts or months)[0]
        month = MONTHS[match.group(1).lower().rstrip(".")]
        if match.group(2):  # "im Mai 2027"
            return max(date(int(match.group(2)), month, 1), base)
        return _next_first(month, base)
    if _NEXT_MONTH.search(text):
        return _add_months(base.replace(day=1), 1)
    if match := _RELATIVE.search(text):
        amount = match.group(1).lower()
        count = int(amount) if amount.isdigit() else _NUMBERS.get(amount, 1)
        if match.group(2).lower().startswith(("week", "woche")):
            return base + timedelta(weeks=count)
        return _add_months(base, count) if count else None
    if match := _SEASON.search(text):
        return _next_first(_SEASONS[match.group(1).lower()], base)
    if _NEXT_YEAR.search(text):
        return date(base.year + 1, 1, 1)
    return None


__all__ = ["deferral_date"]
