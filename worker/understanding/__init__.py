"""Understand an inbound message: intent, confidence, return date, referred address.

``classify(raw)`` / ``classify_message(message)`` never raise; see ``classifier`` for the order
in which evidence is weighed and ``model`` for what comes back.
"""

from worker.understanding.classifier import classify, classify_message
from worker.understanding.model import HUMAN_INTENTS, INTENTS, Classification, Intent

__all__ = ["HUMAN_INTENTS", "INTENTS", "Classification", "Intent", "classify", "classify_message"]
