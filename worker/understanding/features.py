"""What the reply model reads: word and character n-grams of a person's own words.

The same function makes the features when the model is trained and when it is applied, so the
two can never drift apart. Text is lower-cased; addresses, links and digits are folded into
placeholders (a date or a phone number is evidence by its shape, not its value).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter

from worker.understanding.intents import decide

_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"\w+|[?!]")
WORD_LIMIT = 400  # the first words carry the answer; long signatures and disclaimers follow
TEXT_LIMIT = 8_000
LONGEST_WORD = 40  # a longer run of letters (a link, a hash, a line without breaks) is cut
CHAR_SIZES = (3, 4, 5)


def normalise(text: str) -> str:
    """Lower-cased, with links, addresses and digits folded into placeholders."""
    if "://" in text or "www." in text.lower():  # a link holds one ("w" has no other case)
        text = _URL.sub(" urlx ", text)
    at = text.find("@")
    if at >= 0:  # an address holds "@"; none starts before the run of its characters
        start = _address_start(text, at)
        text = text[:start] + _EMAIL.sub(" emailx ", text[start:])
    return _DIGIT.sub("0", text.lower())


def _address_start(text: str, at: int) -> int:
    """Where the run of address characters (word characters, ".", "+", "-") before
    ``text[at]`` begins: no match of ``_EMAIL`` starts before it (one would need an "@"
    before ``at``). ``str.isalnum`` is ``re``'s ``\\w`` without the underscore."""
    start = at
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.+-"):
        start -= 1
    return start


def features(text: str, rule: str | None = None) -> Counter[str]:
    """Counts of ``w:`` words, ``b:`` word pairs, ``c:`` character n-grams inside words, and
    ``r:`` the phrase tables' verdict (one more piece of evidence the model learns to weigh;
    ``rule`` when the caller has it already). Only the first ``TEXT_LIMIT`` characters and
    ``WORD_LIMIT`` words are read."""
    text = text[:TEXT_LIMIT]
    words = words_of(text)
    grams = [f"w:{word}" for word in words]
    grams += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    for word in words:
        grams += char_grams(word)
    found = Counter(grams)
    for name in extra_features(words, text, rule):
        found[name] = 1
    return found


def words_of(text: str) -> list[str]:
    """The words ``features`` reads: of the first ``TEXT_LIMIT`` characters, normalised, the
    first ``WORD_LIMIT``, each cut at ``LONGEST_WORD`` characters."""
    found = _WORD.findall(normalise(text[:TEXT_LIMIT]))[:WORD_LIMIT]
    return [word[:LONGEST_WORD] for word in found]


def extra_features(words: list[str], text: str, rule: str | None) -> list[str]:
    """The features ``features`` adds after the n-grams, in its order."""
    shape = ["e:empty"] if not words else ["e:short"] if len(words) <= 3 else []
    return [*shape, f"r:{rule or rule_of(text)}"]


@functools.lru_cache(maxsize=65_536)
def char_grams(word: str) -> tuple[str, ...]:
    """``c:`` n-grams of one word, padded with a space each side (words recur: kept)."""
    padded = f" {word} "
    last = len(padded) + 1
    return tuple(f"c:{padded[i : i + size]}" for size in CHAR_SIZES for i in range(last - size))


def rule_of(text: str) -> str:
    """The phrase tables' reading of ``text`` without a referred address (a signature's
    address alone is no evidence)."""
    return decide(text[:TEXT_LIMIT], referred=False).intent


__all__ = ["char_grams", "extra_features", "features", "normalise", "rule_of", "words_of"]
