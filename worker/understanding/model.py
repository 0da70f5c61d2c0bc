"""What the classifier says about one inbound message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

Intent = Literal[
    "positive",
    "negative",
    "unsubscribe",
    "ooo",
    "bounce_hard",
    "bounce_soft",
    "complaint",
    "referral",
    "question",
    "auto_reply",
    "unknown",
    "later",
    "data_request",
    "left_company",
]
INTENTS: tuple[Intent, ...] = get_args(Intent)
# Intents written by a person (they stop the sequence at once); the rest are machine-made.
HUMAN_INTENTS: frozenset[Intent] = frozenset(
    (
        "positive",
        "negative",
        "unsubscribe",
        "referral",
        "question",
        "unknown",
        "later",
        "data_request",
    )
)


@dataclass(frozen=True)
class Classification:
    """The intent of a message, how sure the classifier is, and what it extracted."""

    intent: Intent
    confidence: float
    return_date: date | None = None
    referral_email: str | None = None
    bounced_recipients: tuple[str, ...] = ()
    text: str = ""
    language: str | None = None
    reasons: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        """The four documented keys first, then the evidence."""
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 2),
            "return_date": self.return_date.isoformat() if self.return_date else None,
            "referral_email": self.referral_email,
            "bounced_recipients": list(self.bounced_recipients),
            "language": self.language,
            "reasons": list(self.reasons),
            "text": self.text,
        }
