"""``outreach variants``: per A/B variant of the current sequences, touches sent and replies,
counted by the report's own definition (``worker.analytics.variants.variant_counts``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from worker.analytics.queries import load_events, load_touches
from worker.analytics.variants import VariantKey, intents_per_variant, variant_counts
from worker.authoring.sequences import Catalog
from worker.vocabulary import EventKind

_KINDS = (EventKind.SENT, EventKind.CLASSIFIED)


def variant_table(
    session: Session, catalog: Catalog, sequence: str | None = None
) -> list[dict[str, Any]]:
    """One row per sequence, step and variant: ``sent`` touches, ``replied`` (touches a person
    answered, as in ``outreach report``) and ``replies``: touches per classified intent.

    Variants of the current sequence files come first, with zeros when nothing was sent yet;
    variants that exist only in the ledger (renamed or removed since) follow, ``weight`` None.
    """
    if sequence is not None:
        catalog.get(sequence)  # NotFoundError with a suggestion for an unknown name
    touches = [
        touch
        for touch in load_touches(session)
        if touch.variant is not None and sequence in (None, touch.sequence)
    ]
    events = load_events(session, _KINDS)
    counts = variant_counts(events, touches)
    intents = intents_per_variant(events, touches)
    rows: list[dict[str, Any]] = []
    seen: set[VariantKey] = set()
    for name in [sequence] if sequence is not None else catalog.names():
        for index, step in enumerate(catalog.get(name).steps):
            for variant in step.variants or ():
                key = (name, index, variant.name)
                seen.add(key)
                rows.append(_row(key, variant.weight, counts, intents))
    for key in sorted(set(counts) - seen):
        rows.append(_row(key, None, counts, intents))
    return rows


def _row(
    key: VariantKey,
    weight: float | None,
    counts: dict[VariantKey, dict[str, int]],
    intents: dict[VariantKey, dict[str, int]],
) -> dict[str, Any]:
    sequence, index, variant = key
    found = counts.get(key, {})
    return {
        "sequence": sequence,
        "step": index + 1,
        "variant": variant,
        "weight": weight,
        "sent": found.get("sent", 0),
        "replied": found.get("replied", 0),
        "replies": dict(sorted(intents.get(key, {}).items())),
    }


__all__ = ["variant_table"]
