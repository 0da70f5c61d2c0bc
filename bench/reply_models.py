"""Which learner reads people's replies best: the shipped one beside the alternatives.

    .venv/bin/python bench/reply_models.py [--fresh tests/corpus/fresh]

Every learner gets the same features (``worker/understanding/features.py``, TF-IDF weighted)
and the same five stratified folds of the shipped training corpus; the phrase tables alone
are the baseline. With ``--fresh``, each learner is also fitted on the whole corpus and
scored on the fresh sets' human-written replies (bounces, which rules read, left out). The
figures are the learners' own readings, before the rules for machine mail and the phrase-table
exceptions the worker applies on top (``outreach replies evaluate`` measures that whole path).
Needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from worker.understanding.corpus import Labelled, load_labelled
from worker.understanding.features import features, rule_of
from worker.understanding.training import (
    MACHINE_ONLY,
    SEED,
    C,
    default_corpus,
    example_text,
    weigh,
)

REPO = Path(__file__).resolve().parent.parent
LEARNERS: dict[str, Callable[[], Any]] = {
    "logistic regression (shipped)": lambda: LogisticRegression(
        C=C, max_iter=5000, class_weight="balanced"
    ),
    "linear SVM": lambda: LinearSVC(C=1.0, class_weight="balanced"),
    "SGD, modified Huber": lambda: SGDClassifier(
        loss="modified_huber", alpha=1e-5, class_weight="balanced", random_state=SEED
    ),
    "complement naive Bayes": lambda: ComplementNB(alpha=0.3),
}


def _examples(sources: list[tuple[Path, Path | None]]) -> tuple[list[str], np.ndarray]:
    found: list[Labelled] = [e for path, labels in sources for e in load_labelled(path, labels)]
    usable = [e for e in found if e.intent not in MACHINE_ONLY]
    return [example_text(e) for e in usable], np.asarray([e.intent for e in usable])


def _fit_predict(
    learner: Any, train: list[dict[str, int]], labels: np.ndarray, test: list[dict[str, int]]
) -> np.ndarray:
    vectorizer, tfidf, weighted = weigh(train)  # the shipped training's columns and weights
    learner.fit(weighted, labels)
    return np.asarray(learner.predict(tfidf.transform(vectorizer.transform(test))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=Path, help="folder of fresh sets (set-*/labels.yaml)")
    args = parser.parse_args()
    texts, labels = _examples(default_corpus(REPO))
    rows = [dict(features(text)) for text in texts]
    fresh: list[tuple[Path, Path | None]] = []
    if args.fresh:
        fresh = [(s / "messages", s / "labels.yaml") for s in sorted(args.fresh.glob("set-*"))]
    fresh_texts, fresh_labels = _examples(fresh) if fresh else ([], np.asarray([]))
    fresh_rows = [dict(features(text)) for text in fresh_texts]
    print(f"{len(texts)} training examples; {len(fresh_texts)} fresh human replies")
    rule = np.asarray([rule_of(text) for text in texts])
    print(f"  {'phrase tables alone':32} cross-validated {np.mean(rule == labels):6.1%}", end="")
    if fresh_texts:
        fresh_rule = np.asarray([rule_of(text) for text in fresh_texts])
        print(f"   fresh {np.mean(fresh_rule == fresh_labels):6.1%}", end="")
    print()
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    for name, make in LEARNERS.items():
        started = time.process_time()
        predicted = np.empty(len(labels), dtype=object)
        for fit_at, test_at in folds.split(np.zeros(len(rows)), labels):
            predicted[test_at] = _fit_predict(
                make(), [rows[i] for i in fit_at], labels[fit_at], [rows[i] for i in test_at]
            )
        line = f"  {name:32} cross-validated {np.mean(predicted == labels):6.1%}"
        if fresh_texts:
            on_fresh = _fit_predict(make(), rows, labels, fresh_rows)
            line += f"   fresh {np.mean(on_fresh == fresh_labels):6.1%}"
        print(f"{line}   ({time.process_time() - started:.0f} s CPU)")


if __name__ == "__main__":
    main()
