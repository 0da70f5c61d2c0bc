"""How well the classifier reads a labelled set: accuracy, a confusion matrix, and the mistakes
that would act wrongly on a lead (``outreach replies evaluate``).

A *false action* is a message read as an intent whose default action cannot be taken back
lightly, when it is not that intent: ``unsubscribe`` (the address is suppressed for good),
a bounce (the address is suppressed as bounced), ``negative`` (the lead is moved to lost).
Only those read with at least the confidence that lets the worker act count; below it a rep
decides. Return dates of out-of-office and "later" replies and referred addresses are checked
where the label gives them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

FALSE_ACTIONS = {
    "unsubscribe": ("unsubscribe",),
    "bounce": ("bounce_hard", "bounce_soft"),
    "lost": ("negative",),
}


@dataclass(frozen=True)
class Outcome:
    """One labelled message and what the classifier said of it."""

    source: str
    truth: str
    said: str
    confidence: float
    return_date: date | None = None
    true_return_date: date | None = None
    referral_email: str | None = None
    true_referral_email: str | None = None


@dataclass
class Scores:
    """Everything ``evaluate`` measures."""

    total: int = 0
    right: int = 0
    by_intent: dict[str, tuple[int, int]] = field(default_factory=dict)  # right, total
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (truth, said)
    false_actions: dict[str, list[str]] = field(default_factory=dict)
    dates: tuple[int, int] = (0, 0)  # exact, labelled
    referrals: tuple[int, int] = (0, 0)
    misses: list[Outcome] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "right": self.right,
            "accuracy": round(self.accuracy, 4),
            "by_intent": {k: {"right": r, "total": t} for k, (r, t) in self.by_intent.items()},
            "confusion": [
                {"truth": truth, "said": said, "n": n}
                for (truth, said), n in sorted(self.confusion.items())
            ],
            "false_actions": self.false_actions,
            "return_dates": {"exact": self.dates[0], "labelled": self.dates[1]},
            "referral_emails": {"exact": self.referrals[0], "labelled": self.referrals[1]},
            "misses": [
                {"file": m.source, "truth": m.truth, "said": m.said, "confidence": m.confidence}
                for m in self.misses
            ],
        }


def evaluate(outcomes: Sequence[Outcome], min_confidence: float) -> Scores:
    """Score ``outcomes``; false actions count readings at or above ``min_confidence``."""
    scores = Scores(false_actions={name: [] for name in FALSE_ACTIONS})
    per: dict[str, list[int]] = {}
    dates, dated, referrals, referred = 0, 0, 0, 0
    for outcome in outcomes:
        scores.total += 1
        hit = outcome.said == outcome.truth
        scores.right += hit
        counts = per.setdefault(outcome.truth, [0, 0])
        counts[0] += hit
        counts[1] += 1
        scores.confusion[(outcome.truth, outcome.said)] += 1
        if not hit:
            scores.misses.append(outcome)
        for action, intents in FALSE_ACTIONS.items():
            wrongly = outcome.said in intents and outcome.truth not in intents
            if wrongly and outcome.confidence >= min_confidence:
                scores.false_actions[action].append(outcome.source)
        if outcome.true_return_date is not None:
            dated += 1
            dates += outcome.return_date == outcome.true_return_date
        if outcome.true_referral_email is not None:
            referred += 1
            referrals += (outcome.referral_email or "").lower() == outcome.true_referral_email
    scores.by_intent = {k: (v[0], v[1]) for k, v in sorted(per.items())}
    scores.dates, scores.referrals = (dates, dated), (referrals, referred)
    return scores


__all__ = ["FALSE_ACTIONS", "Outcome", "Scores", "evaluate"]
