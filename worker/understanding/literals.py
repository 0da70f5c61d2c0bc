"""The text a regular expression cannot match without: a cheap test before the expensive one.

``required_literals(pattern)`` gives a set of lower-case strings of which every match contains at
least one (``None`` when no such set is worth testing). ``"go ahead" in text`` is a substring
test in C; running a case-insensitive pattern with word boundaries and alternations over the
text is a hundred times slower, and most patterns of the phrase tables find nothing in most
replies. The sets come from the pattern's parse tree (``re._parser``, which has kept its shape
since Python 3.5); whatever the reader does not understand counts as "no requirement", so a
pattern is skipped only when it provably cannot match.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

import ahocorasick

# The parse tree and its opcodes (private modules of ``re``, without type stubs).
_parser: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")

Strings = frozenset[str]
_MOST_ALTERNATIVES = 32  # expanding "(a|b)(c|d)…" beyond this is not worth it
_SHORTEST_USEFUL = 2  # a one-letter requirement is present in nearly every text


def required_literals(pattern: str, flags: int = 0) -> Strings | None:
    """Lower-case strings one of which every match of ``pattern`` contains, or ``None``."""
    try:
        tree = _parser.parse(pattern, flags)
    except re.error:
        return None
    best = _required(list(tree))
    if best is None or min(map(len, best)) < _SHORTEST_USEFUL:
        return None
    return _fewest(best)


def _fewest(strings: Strings) -> Strings:
    """The same requirement without the strings that contain another ("i am all" holds "i am")."""
    return frozenset(s for s in strings if not any(o != s and o in s for o in strings))


def _required(items: list[Any]) -> Strings | None:
    """The best requirement of a sequence of parse items."""
    candidates: list[Strings] = []
    run: Strings = frozenset({""})
    for op, av in items:
        if op is sre.AT:
            continue  # zero width: the characters on either side stay adjacent
        exact = _exact([(op, av)])
        if exact is not None and len(run) * len(exact) <= _MOST_ALTERNATIVES:
            run = frozenset(a + b for a in run for b in exact)
            continue
        candidates.append(run)
        run = frozenset({""})
        child = _required_of(op, av)
        if child is not None:
            candidates.append(child)
    candidates.append(run)
    useful = [c for c in candidates if "" not in c]
    if not useful:
        return None
    return max(useful, key=lambda c: (min(map(len, c)), -len(c)))


def _required_of(op: Any, av: Any) -> Strings | None:
    """The requirement of one parse item that is not an exact string."""
    if op is sre.SUBPATTERN:
        return _required(list(av[3]))
    if op is sre.ATOMIC_GROUP:
        return _required(list(av))
    if op is sre.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            found = _required(list(branch))
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _required(list(av[2]))
    return None


def _exact(items: list[Any]) -> Strings | None:
    """Every string a sequence of parse items matches, when they are few and fixed."""
    strings: Strings = frozenset({""})
    for op, av in items:
        if op is sre.AT:
            continue
        one = _exact_one(op, av)
        if one is None or len(strings) * len(one) > _MOST_ALTERNATIVES:
            return None
        strings = frozenset(a + b for a in strings for b in one)
    return strings


def _exact_one(op: Any, av: Any) -> Strings | None:
    if op is sre.LITERAL:
        return frozenset({chr(av).lower()})
    if op is sre.IN:
        if any(kind is not sre.LITERAL for kind, _ in av) or len(av) > 4:
            return None
        return frozenset(chr(code).lower() for _, code in av)
    if op is sre.SUBPATTERN and not av[1] and not av[2]:
        return _exact(list(av[3]))
    if op is sre.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            found = _exact(list(branch))
            if found is None:
                return None
            union |= found
        return frozenset(union) if len(union) <= _MOST_ALTERNATIVES else None
    if op is sre.MAX_REPEAT and av[0] == 0 and av[1] == 1:
        body = _exact(list(av[2]))
        return None if body is None else body | {""}
    return None


class LiteralIndex:
    """Which of many requirements a text could meet, found in one pass (Aho-Corasick)."""

    def __init__(self, requirements: Sequence[Strings | None]) -> None:
        self._always = frozenset(i for i, req in enumerate(requirements) if req is None)
        owners: dict[str, list[int]] = {}
        for i, req in enumerate(requirements):
            for literal in req or ():
                owners.setdefault(literal, []).append(i)
        self._automaton = ahocorasick.Automaton()
        for literal, which in owners.items():
            self._automaton.add_word(literal, tuple(which))
        if owners:
            self._automaton.make_automaton()
        self._empty = not owners

    def candidates(self, lowered: str) -> frozenset[int]:
        """The requirements ``lowered`` (the text, lower-cased) meets, and those with none."""
        if self._empty:
            return self._always
        # The distinct owner tuples first (a literal is often found several times), then one
        # union in C.
        hits = {which for _end, which in self._automaton.iter(lowered)}
        return self._always.union(*hits) if hits else self._always


class PhraseList:
    """Compiled patterns in their order; ``possible`` skips those a text cannot match."""

    def __init__(self, patterns: Sequence[str], flags: int = 0) -> None:
        self.patterns = tuple(re.compile(pattern, flags) for pattern in patterns)
        self._index = LiteralIndex([required_literals(pattern, flags) for pattern in patterns])

    def possible(self, text: str) -> list[re.Pattern[str]]:
        """The patterns that could match ``text``, in their order."""
        numbers = self._index.candidates(text.lower())
        return [pattern for n, pattern in enumerate(self.patterns) if n in numbers]


class PatternGate:
    """Which of several patterns could match a text, as ``re`` would decide: one pass over
    the lower-cased text finds the patterns whose literals it holds (and those without any).

    ``str.lower`` and ``re``'s case-insensitive matching agree on nearly every character; a
    text holding one where they may not (dotted capital I, dotless i, long s, and the like
    for these patterns' letters) gets every pattern, so nothing is ever skipped wrongly.
    """

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        requirements = [required_literals(p.pattern, p.flags) for p in patterns]
        self._index = LiteralIndex(requirements)
        self._all = frozenset(range(len(patterns)))
        letters = {char for req in requirements for literal in req or () for char in literal}
        self._unlike = _folding_unlike_lower(letters)

    def possible(self, text: str) -> frozenset[int]:
        """The numbers of the patterns that could match ``text``."""
        if self._unlike.search(text):
            return self._all
        return self._index.candidates(text.lower())


def _folding_unlike_lower(letters: set[str]) -> re.Pattern[str]:
    """Characters ``re.IGNORECASE`` takes for one of ``letters`` although their ``lower()``
    is another (or is two characters): any non-ASCII one when ``re`` keeps no table of them."""
    try:
        extra: dict[int, tuple[int, ...]] = importlib.import_module("re._casefix")._EXTRA_CASES
    except (ImportError, AttributeError):  # pragma: no cover (CPython 3.11+ keeps the table)
        return re.compile(r"[^\x00-\x7f]")
    unlike = {"\u0130"}  # İ: lower() is "i" and a combining dot; re reads it as "i"
    for letter in letters:
        for code in extra.get(ord(letter), ()):
            other = chr(code)
            unlike |= {c for c in (other, other.upper(), other.title()) if c.lower() != letter}
    return re.compile("[" + "".join(sorted(re.escape(c) for c in unlike)) + "]")


class GuardedPattern:
    """One compiled pattern, searched only in a text that holds one of its literals."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._index = LiteralIndex([required_literals(pattern.pattern, pattern.flags)])

    def search(self, text: str) -> re.Match[str] | None:
        """``pattern.search(text)``, without running it where it cannot match."""
        if not self._index.candidates(text.lower()):
            return None
        return self.pattern.search(text)


__all__ = ["GuardedPattern", "LiteralIndex", "PatternGate", "PhraseList", "required_literals"]
