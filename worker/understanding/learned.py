"""The reply model at run time: a linear model over n-gram features, applied with numpy.

Its weights ship in the package (``reply_model.npz``, written by ``outreach replies train``);
nothing is downloaded. The model is loaded once per process. ``predict`` gives a probability
per intent, calibrated by the temperature found when it was trained.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from worker.understanding.features import char_grams, extra_features, words_of

MODEL_FILE = Path(__file__).with_name("reply_model.npz")
FORMAT = 1


@dataclass(frozen=True)
class ReplyModel:
    """Vocabulary, idf, weights and calibration of one trained model."""

    classes: tuple[str, ...]
    index: dict[str, int]
    idf: NDArray[np.float32]
    coef: NDArray[np.float32]  # one row per class, one column per feature
    intercept: NDArray[np.float32]
    temperature: float
    meta: dict[str, object]
    by_feature: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _words: dict[str, _WordColumns] = field(init=False, repr=False, compare=False)
    _pairs: dict[str, dict[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One row per feature, so a reply's few hundred features are gathered row by row.
        by_feature = np.ascontiguousarray(self.coef.T, dtype=np.float64)
        object.__setattr__(self, "by_feature", by_feature)
        object.__setattr__(self, "_words", {})
        object.__setattr__(self, "_pairs", _pair_columns(self.index))

    def probabilities(self, text: str, rule: str | None = None) -> dict[str, float]:
        """Every intent's probability for ``text`` (a person's own words); ``rule``: the phrase
        tables' reading when the caller has it already."""
        columns, values = self.known_features(text, rule)
        scores = self.intercept.astype(np.float64)
        if len(columns):
            weights = (1.0 + np.log(values)) * self.idf[columns]
            weights /= np.linalg.norm(weights) or 1.0
            scores = scores + weights @ self.by_feature[columns]
        scores /= self.temperature
        scores -= scores.max()
        exp = np.exp(scores)
        exp /= exp.sum()
        return dict(zip(self.classes, exp.tolist(), strict=True))

    def known_features(
        self, text: str, rule: str | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The columns and counts of the features of ``text`` the model knows, in the order
        ``features`` finds them (the same numbers, so the same sums to the last bit).

        Counted as column numbers rather than strings: each word's own columns (its ``w:``
        feature, its character n-grams, and the ``b:`` pairs it starts, by the word that
        follows) are looked up once and remembered.
        """
        words = words_of(text)
        remembered = self._words.get
        per_word = [remembered(word) or self._word_columns(word) for word in words]
        found = [own for own, _grams, _pairs in per_word if own >= 0]
        found += [
            column
            for (_own, _grams, pairs), second in zip(per_word, words[1:], strict=False)
            if (column := pairs.get(second, -1)) >= 0
        ]
        found += itertools.chain.from_iterable([grams for _own, grams, _pairs in per_word])
        counts = Counter(found)
        lookup = self.index.get
        for name in extra_features(words, text, rule):
            column = lookup(name, -1)
            if column >= 0:
                counts[column] = 1
        size = len(counts)
        return (
            np.fromiter(counts.keys(), np.int64, size),
            np.fromiter(counts.values(), np.float64, size),
        )

    def _word_columns(self, word: str) -> _WordColumns:
        """A word's ``w:`` column (-1 when unknown), its known character n-grams' columns
        (repeats kept) and the ``b:`` columns of the pairs it starts, remembered for the next
        reply (at most ``_WORDS_KEPT`` words)."""
        lookup = self.index.get
        grams = tuple(c for c in (lookup(g, -1) for g in char_grams(word)) if c >= 0)
        entry = (lookup(f"w:{word}", -1), grams, self._pairs.get(word, _NO_PAIRS))
        if len(self._words) >= _WORDS_KEPT:
            self._words.clear()
        self._words[word] = entry
        return entry


# A word's own column, its character n-grams' columns, and its pairs' columns by second word.
_WordColumns = tuple[int, tuple[int, ...], dict[str, int]]
_NO_PAIRS: dict[str, int] = {}


def _pair_columns(index: dict[str, int]) -> dict[str, dict[str, int]]:
    """The ``b:first second`` columns of ``index`` as ``{first: {second: column}}``: a word
    holds no space, so ``b:{first} {second}`` is found here exactly when it is in ``index``."""
    pairs: dict[str, dict[str, int]] = {}
    for name, column in index.items():
        if name.startswith("b:"):
            first, space, second = name[2:].partition(" ")
            if space:
                pairs.setdefault(first, {})[second] = column
    return pairs


_WORDS_KEPT = 200_000


def save_model(model: ReplyModel, path: Path) -> None:
    """Write ``model`` as one compressed ``.npz`` (vocabulary in column order)."""
    vocabulary = sorted(model.index, key=model.index.__getitem__)
    meta = {**model.meta, "format": FORMAT, "classes": list(model.classes)}
    with path.open("wb") as out:
        np.savez_compressed(
            out,
            vocabulary=np.asarray(vocabulary, dtype=np.str_),
            idf=model.idf.astype(np.float32),
            coef=model.coef.astype(np.float16),
            intercept=model.intercept.astype(np.float32),
            temperature=np.asarray([model.temperature], dtype=np.float64),
            meta=np.asarray([json.dumps(meta, sort_keys=True)]),
        )


def load_model(path: Path = MODEL_FILE) -> ReplyModel:
    """Read a model written by ``save_model``."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"][0]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: reply model format {meta.get('format')!r}, need {FORMAT}")
        vocabulary = [str(term) for term in data["vocabulary"]]
        return ReplyModel(
            classes=tuple(meta["classes"]),
            index={term: n for n, term in enumerate(vocabulary)},
            idf=data["idf"].astype(np.float32),
            coef=data["coef"].astype(np.float32),
            intercept=data["intercept"].astype(np.float32),
            temperature=float(data["temperature"][0]),
            meta=meta,
        )


_loaded: ReplyModel | None = None
_lock = threading.Lock()


def shipped_model() -> ReplyModel:
    """The packaged model, loaded on first use and kept for the life of the process."""
    global _loaded  # noqa: PLW0603 (one model per process)
    with _lock:
        if _loaded is None:
            _loaded = load_model(MODEL_FILE)
        return _loaded


__all__ = ["MODEL_FILE", "ReplyModel", "load_model", "save_model", "shipped_model"]
