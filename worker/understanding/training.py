"""Train the reply model: scikit-learn, seeded, reproducible (``outreach replies train``).

Each labelled reply is read the way the classifier reads it (the person's own words, quotes
and signatures stripped), turned into the features of ``features.py``, weighted by TF-IDF and
fitted with multinomial logistic regression. Five folds give out-of-fold probabilities, from
which one temperature is fitted so that the confidence means what it says (the reliability
table shows it). Bounces are left out: delivery reports are read by rules, not by this model.
Needs the ``train`` extra (scikit-learn); applying the model does not.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from worker.understanding.corpus import Labelled
from worker.understanding.features import features
from worker.understanding.learned import ReplyModel
from worker.understanding.reading import person_words

SEED = 20261207
FOLDS = 5
MIN_DOCS = 2  # a feature seen in one reply only is noise
C = 10.0
MACHINE_ONLY = ("bounce_hard", "bounce_soft")


@dataclass(frozen=True)
class Training:
    """A trained model and how it did in cross-validation."""

    model: ReplyModel
    examples: int
    cv_accuracy: float
    cv_by_intent: dict[str, tuple[int, int]]  # intent → (right, total)
    reliability: list[tuple[float, float, int, float, float]]  # low, high, n, mean conf, acc


def example_text(example: Labelled) -> str:
    """The words the model reads for one example."""
    if example.text is not None:
        return person_words(text=example.text)
    assert example.raw is not None
    return person_words(raw=example.raw)


def train(examples: Sequence[Labelled], c: float = C) -> Training:
    """Fit the model on ``examples`` (bounces left out) and measure it by cross-validation."""
    usable = [e for e in examples if e.intent not in MACHINE_ONLY]
    texts = [example_text(e) for e in usable]
    labels = np.asarray([e.intent for e in usable])
    rows = [features(text) for text in texts]
    oof = _out_of_fold(rows, labels, c)
    classes = tuple(sorted(set(labels)))
    temperature = _temperature(oof, labels, classes)
    vectorizer, tfidf, fitted = _fit(rows, labels, c)
    model = ReplyModel(
        classes=tuple(str(name) for name in fitted.classes_),
        index={str(term): n for n, term in enumerate(vectorizer.get_feature_names_out())},
        idf=tfidf.idf_.astype(np.float32),
        coef=fitted.coef_.astype(np.float32),
        intercept=fitted.intercept_.astype(np.float32),
        temperature=temperature,
        meta={
            "examples": len(usable),
            "by_intent": dict(sorted(Counter(labels.tolist()).items())),
            "corpus_sha256": corpus_digest(texts, labels),
            "c": c,
            "seed": SEED,
            "sklearn": sklearn.__version__,
        },
    )
    calibrated = _softmax(np.log(np.clip(oof, 1e-12, 1)) / temperature)
    predicted = np.asarray(classes)[calibrated.argmax(axis=1)]
    by_intent = {
        name: (int(((labels == name) & (predicted == name)).sum()), int((labels == name).sum()))
        for name in classes
    }
    return Training(
        model=model,
        examples=len(usable),
        cv_accuracy=float((predicted == labels).mean()),
        cv_by_intent=by_intent,
        reliability=_reliability(calibrated.max(axis=1), predicted == labels),
    )


def weigh(
    rows: Sequence[Mapping[str, int]],
) -> tuple[DictVectorizer, TfidfTransformer, Any]:
    """The feature columns of ``rows`` (those seen in ``MIN_DOCS`` replies or more) and their
    sublinear TF-IDF weights: what every learner is fitted on."""
    vectorizer = DictVectorizer()
    counts = vectorizer.fit_transform(rows)
    docs = np.asarray((counts > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero(docs >= MIN_DOCS)
    vectorizer.restrict(np.isin(np.arange(counts.shape[1]), keep))
    tfidf = TfidfTransformer(sublinear_tf=True)
    weighted = tfidf.fit_transform(vectorizer.transform(rows))
    return vectorizer, tfidf, weighted


def _fit(
    rows: list[Counter[str]], labels: NDArray[np.str_], c: float
) -> tuple[DictVectorizer, TfidfTransformer, LogisticRegression]:
    vectorizer, tfidf, weighted = weigh(rows)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit(weighted, labels)
    return vectorizer, tfidf, model


def _out_of_fold(
    rows: list[Counter[str]], labels: NDArray[np.str_], c: float
) -> NDArray[np.float64]:
    classes = sorted(set(labels))
    found = np.zeros((len(rows), len(classes)))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for fit_at, test_at in folds.split(np.zeros(len(rows)), labels):
        vectorizer, tfidf, model = _fit([rows[i] for i in fit_at], labels[fit_at], c)
        weighted = tfidf.transform(vectorizer.transform([rows[i] for i in test_at]))
        probabilities = model.predict_proba(weighted)
        for column, name in enumerate(model.classes_):
            found[test_at, classes.index(name)] = probabilities[:, column]
    return found


def _softmax(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def _temperature(
    oof: NDArray[np.float64], labels: NDArray[np.str_], classes: tuple[str, ...]
) -> float:
    """The temperature that makes out-of-fold probabilities fit best (lowest log loss)."""
    logits = np.log(np.clip(oof, 1e-12, 1))
    truth = np.asarray([classes.index(label) for label in labels])

    def loss(log_t: float) -> float:
        p = _softmax(logits / math.exp(log_t))
        return float(-np.log(p[np.arange(len(truth)), truth] + 1e-12).mean())

    found = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return float(math.exp(found.x))


def _reliability(
    confidence: NDArray[np.float64], right: NDArray[np.bool_]
) -> list[tuple[float, float, int, float, float]]:
    table = []
    for low in np.arange(0.0, 1.0, 0.1):
        high = low + 0.1
        inside = (confidence >= low) & ((confidence < high) | (high >= 1.0))
        n = int(inside.sum())
        if n:
            table.append(
                (
                    round(float(low), 1),
                    round(float(high), 1),
                    n,
                    float(confidence[inside].mean()),
                    float(right[inside].mean()),
                )
            )
    return table


def corpus_digest(texts: list[str], labels: NDArray[np.str_]) -> str:
    """SHA-256 of the examples a model was trained on (kept in its metadata)."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\0{text}\0".encode())
    return digest.hexdigest()


def default_corpus(home: Path) -> list[tuple[Path, Path | None]]:
    """The shipped training corpus in ``tests/corpus``: the labelled messages, the sets once held
    out or fresh and since tuned on (``spent/``), and the reply texts, as (path, labels file).
    ``fresh/`` is never trained on: it measures."""
    root = home / "tests" / "corpus"
    found: list[tuple[Path, Path | None]] = [(root / "messages", root / "labels.yaml")]
    found += [(root / name, None) for name in ("holdout", "holdout2")]
    # Sets written by fresh hands whose first run was reported and then tuned on: training data.
    found += [(s / "messages", s / "labels.yaml") for s in sorted((root / "spent").glob("set-*"))]
    found += [(path, None) for path in sorted((root / "texts").glob("*.jsonl"))]
    return [(path, labels) for path, labels in found if path.exists()]


__all__ = [
    "MACHINE_ONLY",
    "SEED",
    "C",
    "Training",
    "corpus_digest",
    "default_corpus",
    "example_text",
    "train",
    "weigh",
]
