"""Who got which touch and what came back: sends and classified replies, keyed by touch."""

from __future__ import annotations

from worker.analytics.records import EventRow, TouchRow
from worker.understanding import HUMAN_INTENTS
from worker.vocabulary import EventKind

BOUNCE_INTENTS = ("bounce_hard", "bounce_soft")


def sent_touch_ids(events: list[EventRow]) -> set[int]:
    """The touches a ``sent`` event records."""
    return {e.touch_id for e in events if e.kind == EventKind.SENT and e.touch_id is not None}


def intents_by_touch(events: list[EventRow]) -> dict[int, list[str]]:
    """Per touch, the intents of the ``classified`` events pointing at it, in order."""
    found: dict[int, list[str]] = {}
    for event in events:
        if event.kind == EventKind.CLASSIFIED and event.touch_id is not None and event.cause:
            found.setdefault(event.touch_id, []).append(event.cause)
    return found


def replied(intents: list[str]) -> bool:
    """Whether a person answered (a human intent, not an auto-reply, bounce or OOO)."""
    return any(intent in HUMAN_INTENTS for intent in intents)


def touch_index(touches: list[TouchRow]) -> dict[int, TouchRow]:
    """Touches by id."""
    return {touch.id: touch for touch in touches}
