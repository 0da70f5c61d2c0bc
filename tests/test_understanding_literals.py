"""The literal prefilter skips a pattern only where it cannot match."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from worker.understanding import intents
from worker.understanding.literals import GuardedPattern, LiteralIndex, required_literals
from worker.understanding.phrases import PHRASES
from worker.understanding.reading import person_words

CORPUS = Path(__file__).parent / "corpus"


def corpus_texts() -> list[str]:
    """Every reply text of the corpus: the messages' own words and the written texts."""
    texts = [person_words(raw=path.read_bytes()) for path in sorted(CORPUS.rglob("*.eml"))]
    for path in sorted((CORPUS / "texts").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line]
    return texts


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bgo ahead\b", {"go ahead"}),
        (r"(please |so )?go ahead", {"go ahead"}),
        (r"\b(we'?ll|i will) pass\b", {"well pass", "we'll pass", "i will pass"}),
        (r"organi[sz]e a call", {"organise a call", "organize a call"}),
        (r"address(es)? failed", {"address failed", "addresses failed"}),
        (r"\bnicht\b[^.!?]{0,60}\bzugestellt", {"zugestellt"}),
        (r"Unsubscribe", {"unsubscribe"}),
    ],
)
def test_required_literals_of_common_shapes(pattern: str, expected: set[str]) -> None:
    assert required_literals(pattern, re.IGNORECASE) == expected


@pytest.mark.parametrize("pattern", [r"\w+", r"^\W*$", r"(a|\d+)x?", r"[^.]{3,}", r"("])
def test_no_requirement_when_none_is_certain(pattern: str) -> None:
    assert required_literals(pattern, re.IGNORECASE) is None


def test_index_finds_overlapping_literals() -> None:
    index = LiteralIndex([frozenset({"geht"}), frozenset({"geht das"}), None, frozenset({"xyz"})])
    assert index.candidates("das geht das nicht") == {0, 1, 2}


def test_guarded_pattern_matches_like_the_pattern() -> None:
    guarded = GuardedPattern(re.compile(r"mail delivery (failed|failure)", re.IGNORECASE))
    assert guarded.search("Mail Delivery Failed: returning")
    assert guarded.search("nothing of the kind") is None


def test_phrase_tables_find_the_same_evidence_with_and_without_the_prefilter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = corpus_texts()
    assert len(texts) > 1_000
    filtered = [intents.find_evidence(text) for text in texts]

    class Everything:
        def candidates(self, lowered: str) -> range:
            return range(10_000)

    monkeypatch.setattr(intents, "_INDEX", Everything())
    assert [intents.find_evidence(text) for text in texts] == filtered
    assert any(filtered)


def test_every_phrase_pattern_has_a_requirement() -> None:
    """A pattern without one runs on every reply: write it so it names a word."""
    patterns = [pattern for table in PHRASES.values() for pattern, _ in table]
    assert [p for p in patterns if required_literals(p, re.IGNORECASE) is None] == []
