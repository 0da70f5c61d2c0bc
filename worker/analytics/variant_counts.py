"""Per A/B variant: touches sent and the replies they drew (raw counts a report builds on)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.authoring.sequences import Catalog
from worker.store.models import InboundMessage, Touch

Key = tuple[str, int, str]


def variant_counts(
    session: Session, catalog: Catalog, sequence: str | None = None
) -> list[dict[str, Any]]:
    """One row per sequence, step and variant: ``sent`` touches and ``replies`` by intent.

    Replies are the inbound messages matched to those touches (``InboundMessage.touch_id``),
    counted per classified intent; ``replied`` is their total. Variants of the current
    sequence files come first, with zeros when nothing was sent yet; variants that exist only
    in the ledger (renamed or removed since) follow, with ``weight`` None.
    """
    if sequence is not None:
        catalog.get(sequence)  # NotFoundError with a suggestion for an unknown name
    sent_query = (
        select(Touch.sequence, Touch.step_index, Touch.variant, func.count())
        .where(Touch.variant.is_not(None), Touch.status == "sent")
        .group_by(Touch.sequence, Touch.step_index, Touch.variant)
    )
    reply_query = (
        select(Touch.sequence, Touch.step_index, Touch.variant, InboundMessage.intent, func.count())
        .join(Touch, Touch.id == InboundMessage.touch_id)
        .where(Touch.variant.is_not(None), InboundMessage.intent.is_not(None))
        .group_by(Touch.sequence, Touch.step_index, Touch.variant, InboundMessage.intent)
    )
    if sequence is not None:
        sent_query = sent_query.where(Touch.sequence == sequence)
        reply_query = reply_query.where(Touch.sequence == sequence)
    sent: dict[Key, int] = {
        (seq, index, str(variant)): int(n) for seq, index, variant, n in session.execute(sent_query)
    }
    replies: dict[Key, dict[str, int]] = {}
    for seq, index, name, intent, n in session.execute(reply_query):
        replies.setdefault((seq, index, str(name)), {})[str(intent)] = int(n)
    rows: list[dict[str, Any]] = []
    seen: set[Key] = set()
    for seq in [sequence] if sequence is not None else catalog.names():
        for index, step in enumerate(catalog.get(seq).steps):
            for variant in step.variants or ():
                key = (seq, index, variant.name)
                seen.add(key)
                rows.append(_row(key, variant.weight, sent, replies))
    for key in sorted((set(sent) | set(replies)) - seen):
        rows.append(_row(key, None, sent, replies))
    return rows


def _row(
    key: Key, weight: float | None, sent: dict[Key, int], replies: dict[Key, dict[str, int]]
) -> dict[str, Any]:
    sequence, index, variant = key
    by_intent = dict(sorted(replies.get(key, {}).items()))
    return {
        "sequence": sequence,
        "step": index + 1,
        "variant": variant,
        "weight": weight,
        "sent": sent.get(key, 0),
        "replied": sum(by_intent.values()),
        "replies": by_intent,
    }


__all__ = ["variant_counts"]
