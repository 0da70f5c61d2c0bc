"""Score a person's own words against the phrase tables and decide one intent.

Precedence (each rule documented where it is decided):

1. ``unsubscribe`` on any clear opt-out phrase, whatever else the text says (negated ones,
   "I don't want to unsubscribe", and mentions, "I was about to hit unsubscribe", do not count).
2. ``referral`` when the text gives someone else's address; referral words without an address
   ("I forwarded it internally") point nowhere we can follow, so they decide nothing.
3. ``negative`` when its evidence is at least as strong as the positive evidence: negation beats
   interest ("not interested" is matched first and masks "interested"; "Sounds good, but not
   right now" is negative). After a "but" / "aber", the clause that follows has the last word:
   "Kein Interesse an einer Demo, aber gerne ein Angebot" is positive.
4. ``positive`` on a clear statement of interest, even with a question ("Interested — what does
   it cost?" is positive: a hot lead the rep answers anyway); acceptance ("we'd be up for the
   scan", "go ahead", "wir sind dabei") and a proposed slot ("Würde Ihnen Dienstag um 10 Uhr
   passen?", "Would Thursday at 3pm suit you?") count as clear interest, so the question mark of
   a scheduling question does not make them a ``question``; a mere hint ("gerne", "ja",
   "Termin") with a question is a ``question``.
5. ``question`` on a question mark or a question phrase; else ``unknown``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from worker.understanding.literals import LiteralIndex, PatternGate, required_literals
from worker.understanding.model import Intent
from worker.understanding.phrases import NEGATORS, PHRASES, PhraseTable, TextIntent

_FLAGS = re.IGNORECASE | re.MULTILINE


_Numbered = dict[TextIntent, tuple[tuple[re.Pattern[str], float, int], ...]]


def _numbered(table: PhraseTable) -> _Numbered:
    """Each table's compiled patterns with their weight and their number in ``_INDEX``."""
    numbers = itertools.count()
    return {
        intent: tuple((re.compile(p, _FLAGS), weight, next(numbers)) for p, weight in rows)
        for intent, rows in table.items()
    }


_TABLES = _numbered(PHRASES)
# Most patterns find nothing in most replies; the index tells in one pass which could.
_INDEX = LiteralIndex(
    [required_literals(p.pattern, _FLAGS) for rows in _TABLES.values() for p, _, _ in rows]
)
_NEGATED = re.compile(rf"({NEGATORS})\W+(\w+\W+){{0,2}}$", re.IGNORECASE)
_NEGATED_AFTER = re.compile(r"^[ ,]*(\w+[ ,]+)?nicht\b", re.IGNORECASE)  # "passt mir nicht"
_CHECK_NEGATION: frozenset[TextIntent] = frozenset({"unsubscribe", "positive"})
URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
CONTRAST = re.compile(r"\b(but|however|aber|jedoch|allerdings)\b[^.!?\n]*", re.IGNORECASE)
QUESTION_MARK = re.compile(r"\?(\s|$)")
_CONTRAST_GATE = PatternGate([CONTRAST])


@dataclass(frozen=True)
class Evidence:
    """One phrase found for an intent, and how much it counts."""

    intent: TextIntent
    phrase: str
    weight: float


@dataclass(frozen=True)
class TextVerdict:
    """The intent a person's text expresses, with confidence and the phrases behind it."""

    intent: Intent
    confidence: float
    evidence: tuple[Evidence, ...]
    question_mark: bool
    found: frozenset[TextIntent] = frozenset()  # every table with a phrase in the text

    def clear(self) -> bool:
        """True when a phrase that settles an intent on its own was found (weight 1.0)."""
        return any(e.weight >= 1.0 for e in self.evidence)

    def reasons(self) -> tuple[str, ...]:
        found = tuple(f"{e.intent} phrase {e.phrase!r}" for e in self.evidence)
        return (*found, "question mark") if self.question_mark else found


def _negated(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    return bool(_NEGATED.search(before) or _NEGATED_AFTER.match(text[end : end + 20]))


def _unlinked(text: str, lowered: str) -> str:
    """``text`` with links blanked (``URL.sub(" ", text)``); ``lowered``: ``text.lower()``.

    Every link holds "://" or "www." (its letters have no other case forms), so a text
    without either is returned as it is, without running the pattern."""
    if "://" in text or "www." in lowered:
        return URL.sub(" ", text)
    return text


def find_evidence(text: str) -> list[Evidence]:
    """Phrases of every table; a match hides its words from the tables after it."""
    lowered = text.lower()
    masked = _unlinked(text, lowered)
    return _evidence(masked, lowered if masked is text else masked.lower())


def _evidence(masked: str, lowered: str) -> list[Evidence]:
    """``find_evidence`` of a text whose links are blanked already (``lowered``: lower-cased)."""
    possible = _INDEX.candidates(lowered)
    found: list[Evidence] = []
    for intent, table in _TABLES.items():
        spans: list[tuple[int, int]] = []
        for pattern, weight, number in table:
            if number not in possible:
                continue
            for match in pattern.finditer(masked):
                if intent in _CHECK_NEGATION and _negated(masked, match.start(), match.end()):
                    continue
                phrase = " ".join(match.group(0).split())
                if phrase:
                    found.append(Evidence(intent, phrase[:60], weight))
                    spans.append(match.span())
                break  # one match per phrase is enough
        for start, end in spans:
            masked = masked[:start] + " " * (end - start) + masked[end:]
        if spans:  # blanking can join words into a phrase that was not there
            possible = _INDEX.candidates(masked.lower())
    return found


def _score(evidence: list[Evidence], intent: TextIntent) -> float:
    return sum(e.weight for e in evidence if e.intent == intent)


def _strong(evidence: list[Evidence], intent: TextIntent) -> bool:
    return any(e.intent == intent and e.weight >= 1.0 for e in evidence)


@dataclass(frozen=True)
class PhraseReading:
    """What the phrase tables find in one text, before a referred address is known: read
    once, then ``verdict`` decides with or without one."""

    evidence: list[Evidence]
    question_mark: bool
    last_word: Intent | None  # the leaning of the last "but" clause

    def verdict(self, *, referred: bool) -> TextVerdict:
        """The intent of the text; ``referred``: a referred address was found."""
        evidence = self.evidence
        verdict = _decide(evidence, self.question_mark, referred, self.last_word)
        used = tuple(e for e in evidence if e.intent == verdict[0]) or tuple(evidence[:3])
        found = frozenset(e.intent for e in evidence)
        return TextVerdict(verdict[0], verdict[1], used, self.question_mark, found)


def read_phrases(text: str) -> PhraseReading:
    """The phrase tables' evidence in ``text``, its question mark and its last "but" clause."""
    lowered = text.lower()
    unlinked = _unlinked(text, lowered)
    evidence = _evidence(unlinked, lowered if unlinked is text else unlinked.lower())
    mark = bool(QUESTION_MARK.search(unlinked))
    last_word = None
    if _CONTRAST_GATE.possible(text):  # most replies hold no "but": skip the scan
        contrasts = list(CONTRAST.finditer(text))
        if contrasts:
            last_word = _leaning(find_evidence(contrasts[-1].group(0)))
    return PhraseReading(evidence, mark, last_word)


def decide(text: str, *, referred: bool) -> TextVerdict:
    """The intent of a person's own text; ``referred``: a referred address was found."""
    return read_phrases(text).verdict(referred=referred)


def _leaning(evidence: list[Evidence]) -> Intent | None:
    """ "positive" or "negative" when a clause says only one of the two, else None."""
    positive, negative = _score(evidence, "positive"), _score(evidence, "negative")
    if positive and not negative:
        return "positive"
    if negative and not positive:
        return "negative"
    return None


def _decide(
    evidence: list[Evidence], mark: bool, referred: bool, last_word: Intent | None = None
) -> tuple[Intent, float]:
    if _strong(evidence, "unsubscribe"):
        return "unsubscribe", 0.9
    if referred:
        return "referral", 0.9 if _score(evidence, "referral") >= 1.0 else 0.8
    negative, positive = _score(evidence, "negative"), _score(evidence, "positive")
    strong_negative = _strong(evidence, "negative")
    if negative and positive and last_word == "positive":
        return "positive", 0.75
    if negative and (negative >= positive or last_word == "negative"):
        return "negative", 0.85 if strong_negative else 0.65
    if _strong(evidence, "positive"):
        return "positive", 0.85
    question = _score(evidence, "question")
    if mark or _strong(evidence, "question"):
        confidence = 0.75 if mark and question else 0.6
        return "question", confidence
    if positive:
        return "positive", 0.6
    if negative:
        return "negative", 0.6
    return "unknown", 0.3
