"""Classify a labelled set the way the worker would and score it (``replies evaluate``)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from worker.understanding.classifier import classify
from worker.understanding.corpus import Labelled, load_labelled
from worker.understanding.evaluation import Outcome, Scores, evaluate
from worker.understanding.judgement import judge
from worker.understanding.reading import person_words

DATED = ("ooo", "later")
REFERRING = ("referral", "left_company")


def outcome_of(example: Labelled, own_addresses: Collection[str] = ()) -> Outcome:
    """What the classifier says of one labelled example (a message, or a reply text)."""
    if example.raw is not None:
        found = classify(example.raw, own_addresses=own_addresses)
        said, confidence = found.intent, found.confidence
        day, referral = found.return_date, found.referral_email
    else:
        verdict = judge(person_words(text=example.text), referred=False)
        said, confidence, day, referral = verdict.intent, verdict.confidence, None, None
    return Outcome(
        source=example.source,
        truth=example.intent,
        said=said,
        confidence=confidence,
        return_date=day,
        true_return_date=example.return_date if example.intent in DATED else None,
        referral_email=referral,
        true_referral_email=example.referral_email if example.intent in REFERRING else None,
    )


def score_labelled(
    folder: Path, labels: Path | None, own_addresses: Collection[str], min_confidence: float
) -> Scores:
    """Scores of the classifier on the labelled messages of ``folder``."""
    examples = load_labelled(folder, labels)
    return evaluate([outcome_of(e, own_addresses) for e in examples], min_confidence)


__all__ = ["outcome_of", "score_labelled"]
