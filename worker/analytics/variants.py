"""Per A/B variant: sent, reply and positive-reply rates, a z-test between the variants of a
step, and the sample size still needed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.analytics.records import EventRow, TouchRow
from worker.analytics.stats import rate, sample_size_per_group, two_proportion_p_value
from worker.analytics.touches import intents_by_touch, replied, sent_touch_ids

NA = "n/a"


VariantKey = tuple[str, int, str]


def variant_counts(
    window: list[EventRow], touches: list[TouchRow]
) -> dict[VariantKey, dict[str, int]]:
    """Per (sequence, step index, variant): ``sent`` touches, touches a person ``replied`` to
    and touches with a ``positive`` reply (each touch counted once).

    This is the one definition of a variant's replies, for ``outreach report``, the web app's
    reports and ``outreach variants``: a touch counts as replied when a person answered it (a
    human intent: positive, negative, unsubscribe, referral, question, unknown), however many
    messages they wrote; auto-replies, out-of-office notices and bounces say nothing about the
    copy and are not replies.
    """
    sent = sent_touch_ids(window)
    intents = intents_by_touch(window)
    counts: dict[tuple[str, int, str], dict[str, int]] = {}
    for touch in touches:
        if touch.variant is None or touch.id not in sent:
            continue
        row = counts.setdefault(
            (touch.sequence, touch.step_index, touch.variant),
            {"sent": 0, "replied": 0, "positive": 0},
        )
        found = intents.get(touch.id, [])
        row["sent"] += 1
        row["replied"] += replied(found)
        row["positive"] += "positive" in found
    return counts


def intents_per_variant(
    window: list[EventRow], touches: list[TouchRow]
) -> dict[VariantKey, dict[str, int]]:
    """Per (sequence, step index, variant): how many sent touches drew each intent (a touch
    counts once per intent; auto-replies and bounces included, shown beside the replies)."""
    sent = sent_touch_ids(window)
    intents = intents_by_touch(window)
    found: dict[VariantKey, dict[str, int]] = {}
    for touch in touches:
        if touch.variant is None or touch.id not in sent:
            continue
        row = found.setdefault((touch.sequence, touch.step_index, touch.variant), {})
        for intent in set(intents.get(touch.id, [])):
            row[intent] = row.get(intent, 0) + 1
    return found


def compare(a: Mapping[str, int], b: Mapping[str, int]) -> tuple[float | str, int | str, int | str]:
    """Reply rate of ``a`` against ``b``: the z-test p-value, the sample size per variant
    needed to detect the observed difference, and how many more ``a`` still needs
    ("n/a" when not computable)."""
    p_value = two_proportion_p_value(a["replied"], a["sent"], b["replied"], b["sent"])
    ra, rb = rate(a["replied"], a["sent"]), rate(b["replied"], b["sent"])
    needed = sample_size_per_group(ra, rb) if ra is not None and rb is not None else None
    return (
        NA if p_value is None else p_value,
        NA if needed is None else needed,
        NA if needed is None else max(0, needed - a["sent"]),
    )


def variant_rows(window: list[EventRow], touches: list[TouchRow]) -> list[dict[str, Any]]:
    """One row per variant sent in ``window``.

    Reply rate: touches a person replied to (see ``variant_counts``) / sent; positive rate
    likewise for positive replies. Each variant is
    compared on reply rate with the baseline of its step — the first variant by name; the
    baseline itself with the second — by a pooled two-proportion z-test (``p_value``), and
    ``sample_needed`` is the standard per-group size for alpha 0.05 / power 0.8 at the two
    observed rates, ``more_needed`` that minus the variant's sent. A step with one variant gets
    "n/a".
    """
    return variant_table(variant_counts(window, touches))


def variant_table(counts: Mapping[VariantKey, Mapping[str, int]]) -> list[dict[str, Any]]:
    """The rows of ``variant_rows`` from ``variant_counts`` (keys with nothing sent are left
    out)."""
    counts = {
        key: {name: row.get(name, 0) for name in ("sent", "replied", "positive")}
        for key, row in counts.items()
        if row.get("sent")
    }
    by_step: dict[tuple[str, int], list[str]] = {}
    for sequence, step, variant in sorted(counts):
        by_step.setdefault((sequence, step), []).append(variant)
    rows = []
    for (sequence, step), names in sorted(by_step.items()):
        for name in names:
            mine = counts[(sequence, step, name)]
            other = names[1] if name == names[0] and len(names) > 1 else names[0]
            if other == name:
                result: tuple[Any, Any, Any] = (NA, NA, NA)
            else:
                result = compare(mine, counts[(sequence, step, other)])
            rows.append(
                {
                    "sequence": sequence,
                    "step": step + 1,
                    "variant": name,
                    "sent": mine["sent"],
                    "replied": mine["replied"],
                    "positive": mine["positive"],
                    "reply_rate": rate(mine["replied"], mine["sent"]),
                    "positive_rate": rate(mine["positive"], mine["sent"]),
                    "compared_with": None if other == name else other,
                    "p_value": result[0],
                    "sample_needed": result[1],
                    "more_needed": result[2],
                }
            )
    return rows
