"""What a person's own words say, by the reply model (the phrase tables when it is missing).

The model gives a probability per intent and the most probable one wins, with documented
exceptions where the phrase tables know better: interest stated outright (acceptance, a
proposed slot) with a question is ``positive``, not a ``question``; and the phrase tables'
reading decides when the model is not sure (below ``UNSURE``) and a phrase settles the intent
on its own ("we'll respectfully decline"), when the model can only say ``unknown``, or when it
is guessing (below ``GUESSING``) — but a reply the model reads as interest or a question that
copies in a colleague ("Fiona (cc'd) handles onboarding") stays so: the referral table's
"cc'd" cannot tell copying in from stepping out. The phrase tables never name an unsubscribe
on their own: it suppresses for good, so only the model does, and below ``UNSURE`` only where
the text holds an opt-out phrase too; otherwise a rep reads it first. ``clear`` means the
reading is sure enough that a reply greeting someone else is still about our mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from worker.understanding.features import TEXT_LIMIT
from worker.understanding.intents import TextVerdict, read_phrases
from worker.understanding.learned import shipped_model
from worker.understanding.model import INTENTS, Intent

log = logging.getLogger(__name__)
CLEAR_AT = 0.85
UNSURE = 0.9
GUESSING = 0.6  # below the confidence the worker acts on (OUTREACH_MIN_CONFIDENCE)
UNSUPPORTED = 0.5  # an opt-out the model reads where no opt-out phrase is: a rep decides
_model_missing_logged = False


@dataclass(frozen=True)
class ModelVerdict:
    """The intent the model reads in a text, its calibrated probability, and the runners-up."""

    intent: Intent
    confidence: float
    ranked: tuple[tuple[str, float], ...]
    phrases: TextVerdict

    def clear(self) -> bool:
        return self.confidence >= CLEAR_AT

    def reasons(self) -> tuple[str, ...]:
        top = ", ".join(f"{name} {p:.2f}" for name, p in self.ranked[:3])
        return (f"reply model: {top}", *self.phrases.reasons())


def judge(text: str, *, referred: bool) -> ModelVerdict | TextVerdict:
    """The model's verdict on ``text``; the phrase tables' when no model can be loaded."""
    reading = read_phrases(text[:TEXT_LIMIT])  # the tables' evidence, read once for both
    plain = reading.verdict(referred=False)
    phrases = reading.verdict(referred=True) if referred else plain
    if not text.strip():
        return phrases  # nothing of the person's own: unknown, with the low confidence it has
    try:
        model = shipped_model()
    except (OSError, ValueError, KeyError) as exc:
        _log_missing(exc)
        return phrases
    ranked = sorted(model.probabilities(text, plain.intent).items(), key=lambda item: -item[1])
    name, probability = ranked[0]
    if name not in INTENTS:  # pragma: no cover (a model knows only intents)
        return phrases
    intent: Intent = name
    if intent in ("question", "unknown") and phrases.intent == "positive" and phrases.clear():
        return ModelVerdict("positive", max(probability, 0.75), tuple(ranked), phrases)
    copied_in = phrases.intent == "referral" and intent in ("positive", "question")  # see above
    if (
        phrases.intent not in (intent, "unsubscribe", "unknown")
        and not copied_in
        and (
            (probability < UNSURE and phrases.clear())
            or (intent == "unknown" and probability < UNSURE)
            or probability < GUESSING
        )
    ):
        return phrases  # a rule the team wrote down decides; it never suppresses on its own
    if intent == "unsubscribe" and probability < UNSURE and "unsubscribe" not in plain.found:
        # It suppresses for good: without a word of opting out, a rep reads it first ("so
        # please use my new address from now on" is a change of address).
        return ModelVerdict(intent, min(probability, UNSUPPORTED), tuple(ranked), phrases)
    return ModelVerdict(intent, probability, tuple(ranked), phrases)


def _log_missing(exc: Exception) -> None:
    global _model_missing_logged  # noqa: PLW0603 (log once per process)
    if not _model_missing_logged:
        log.warning("reply model not loaded (%s); using the phrase tables", exc)
        _model_missing_logged = True


__all__ = ["CLEAR_AT", "GUESSING", "UNSURE", "ModelVerdict", "judge"]
