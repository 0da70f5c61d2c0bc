"""Per sending mailbox: touches sent, hard-bounce rate, spam-complaint rate and reply rate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from worker.analytics.records import EventRow, TouchRow
from worker.analytics.stats import rate
from worker.analytics.touches import intents_by_touch, replied, sent_touch_ids


def mailbox_rows(window: list[EventRow], touches: list[TouchRow]) -> list[dict[str, Any]]:
    """One row per mailbox that sent in ``window``: ``sent``, ``hard_bounce_rate`` (touches
    with a hard bounce / sent), ``complaint_rate`` (touches reported as spam through a
    feedback loop / sent) and ``reply_rate`` (touches a person replied to / sent)."""
    sent = sent_touch_ids(window)
    intents = intents_by_touch(window)
    counts: dict[str, Counter[str]] = {}
    for touch in touches:
        if touch.id not in sent:
            continue
        row = counts.setdefault(touch.mailbox or "-", Counter())
        found = intents.get(touch.id, [])
        row["sent"] += 1
        row["hard_bounced"] += "bounce_hard" in found
        row["complained"] += "complaint" in found
        row["replied"] += replied(found)
    return mailbox_table(counts)


def mailbox_table(counts: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """The rows of ``mailbox_rows`` from its counts per mailbox (``sent``, ``hard_bounced``,
    ``complained``, ``replied``); mailboxes that sent nothing are left out."""
    return [
        {
            "mailbox": mailbox,
            "sent": row.get("sent", 0),
            "hard_bounced": row.get("hard_bounced", 0),
            "replied": row.get("replied", 0),
            "complained": row.get("complained", 0),
            "hard_bounce_rate": rate(row.get("hard_bounced", 0), row.get("sent", 0)),
            "complaint_rate": rate(row.get("complained", 0), row.get("sent", 0)),
            "reply_rate": rate(row.get("replied", 0), row.get("sent", 0)),
        }
        for mailbox, row in sorted(counts.items())
        if row.get("sent")
    ]
