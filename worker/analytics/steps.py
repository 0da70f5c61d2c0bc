"""Per sequence step: touches sent, replies by intent, bounces, unsubscribes and drop-off."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from worker.analytics.funnel import is_advance
from worker.analytics.records import EventRow, TouchRow
from worker.analytics.touches import BOUNCE_INTENTS, intents_by_touch, sent_touch_ids, touch_index
from worker.vocabulary import EventKind, Stage

StepKey = tuple[str, int]


def exit_reason(lead_events: list[EventRow], sequence: str, start: datetime) -> str | None:
    """Why a lead left ``sequence`` without advancing, from its events at or after ``start``
    (its first touch in the sequence); None when it advanced or has not left.

    Reasons, first match wins: ``unsubscribed`` (an unsubscribe or an unsubscribe
    suppression), ``bounced`` (a bounce suppression), ``lost`` (moved to lost), ``completed``
    (the sequence ran out without a reply), ``stopped`` (the sequence was stopped otherwise).
    """
    later = [e for e in lead_events if e.at >= start]
    for event in later:
        if event.kind == EventKind.STAGE_CHANGED and is_advance(
            str(event.detail.get("previous")), str(event.detail.get("stage"))
        ):
            return None
    kinds = {(e.kind, e.cause) for e in later}
    if any(
        k == EventKind.UNSUBSCRIBED or (k == EventKind.SUPPRESSED and c == "unsubscribe")
        for k, c in kinds
    ):
        return "unsubscribed"
    if (EventKind.SUPPRESSED, "bounce") in kinds:
        return "bounced"
    if any(
        e.kind == EventKind.STAGE_CHANGED and e.detail.get("stage") == Stage.LOST for e in later
    ):
        return "lost"
    own = {e.kind for e in later if e.sequence == sequence}
    if EventKind.SEQUENCE_COMPLETED in own:
        return "completed"
    if EventKind.SEQUENCE_STOPPED in own:
        return "stopped"
    return None


def drop_offs(
    events: list[EventRow], window: list[EventRow], touches: dict[int, TouchRow]
) -> dict[StepKey, Counter[str]]:
    """Per step, the leads whose last touch sent (in ``window``) in that sequence was this
    step and who then left it without advancing, counted by reason (see ``exit_reason``).
    ``events`` is the whole log, oldest first (exits may come after the window's sends)."""
    last: dict[tuple[int, str], tuple[int, datetime]] = {}
    for event in window:
        touch = touches.get(event.touch_id) if event.touch_id is not None else None
        if event.kind != EventKind.SENT or touch is None:
            continue
        key = (touch.lead_id, touch.sequence)
        step, first = last.get(key, (touch.step_index, event.at))
        last[key] = (max(step, touch.step_index), min(first, event.at))
    by_lead: dict[int, list[EventRow]] = {}
    for event in events:
        if event.lead_id is not None:
            by_lead.setdefault(event.lead_id, []).append(event)
    counts: dict[StepKey, Counter[str]] = {}
    for (lead_id, sequence), (step, first) in last.items():
        reason = exit_reason(by_lead.get(lead_id, []), sequence, first)
        if reason is not None:
            counts.setdefault((sequence, step), Counter())[reason] += 1
    return counts


def step_rows(
    events: list[EventRow],
    window: list[EventRow],
    touches: list[TouchRow],
    sequence_order: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One row per sequence step that sent something in ``window`` (step is 1-based), the
    sequences in ``sequence_order`` first and in that order, then the others by name.

    ``sent``: touches with a ``sent`` event; ``replies``: classified events pointing at the
    step's touches, by intent (every intent, raw); ``bounces``: hard and soft bounces among
    them; ``unsubscribes``: unsubscribe replies plus ``unsubscribed`` events naming one of the
    touches; ``drop_off``: total and ``drop_off_reasons`` (see ``drop_offs``).
    """
    index = touch_index(touches)
    sent: Counter[StepKey] = Counter()
    for touch_id in sent_touch_ids(window):
        if touch_id in index:
            sent[(index[touch_id].sequence, index[touch_id].step_index)] += 1
    replies: dict[StepKey, Counter[str]] = {}
    for touch_id, intents in intents_by_touch(window).items():
        if touch_id in index:
            key = (index[touch_id].sequence, index[touch_id].step_index)
            replies.setdefault(key, Counter()).update(intents)
    link_unsubscribes: Counter[StepKey] = Counter()
    for event in window:
        if event.kind == EventKind.UNSUBSCRIBED and event.touch_id in index:
            touch = index[event.touch_id]
            link_unsubscribes[(touch.sequence, touch.step_index)] += 1
    drops = drop_offs(events, window, index)
    return step_table(sent, replies, link_unsubscribes, drops, sequence_order)


def step_table(
    sent: Mapping[StepKey, int],
    replies: Mapping[StepKey, Mapping[str, int]],
    link_unsubscribes: Mapping[StepKey, int],
    drops: Mapping[StepKey, Mapping[str, int]],
    sequence_order: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The rows of ``step_rows`` from its counts per (sequence, step index): touches sent,
    replies by intent, unsubscribe-link clicks and drop-offs by reason. A step is listed when
    it sent, was replied to or lost someone (zero counts are left out)."""
    rows = []
    place = {name: n for n, name in enumerate(sequence_order)}
    keys = {k for k, n in sent.items() if n} | {
        k for k, counts in [*replies.items(), *drops.items()] if any(counts.values())
    }
    for key in sorted(keys, key=lambda k: (place.get(k[0], len(place)), k)):
        by_intent = {intent: n for intent, n in replies.get(key, {}).items() if n}
        reasons = {why: n for why, n in drops.get(key, {}).items() if n}
        rows.append(
            {
                "sequence": key[0],
                "step": key[1] + 1,
                "sent": sent.get(key, 0),
                "replies": dict(sorted(by_intent.items())),
                "bounces": sum(by_intent.get(i, 0) for i in BOUNCE_INTENTS),
                "unsubscribes": by_intent.get("unsubscribe", 0) + link_unsubscribes.get(key, 0),
                "drop_off": sum(reasons.values()),
                "drop_off_reasons": dict(sorted(reasons.items())),
            }
        )
    return rows
