"""Resolve many open review items at once (the CLI's ``--all``, the web's bulk form; they
choose the items with ``queries.review_queue``): each item in its own transaction, so one that
cannot be resolved never stops the rest.

``suggested`` resolves each item with its own suggested action (items without one are left
open and reported), e.g. the ``not-sent`` a search of the Sent folder suggested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.errors import OutreachError
from worker.review.resolutions import resolve_now
from worker.runtime import Runtime

SUGGESTED = "suggested"


@dataclass
class BulkResolution:
    """Which items were resolved (id → action) and which were left open (id → why)."""

    resolved: dict[int, str] = field(default_factory=dict)
    left: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"resolved": self.resolved, "left": self.left}


def resolve_many(
    runtime: Runtime,
    rows: Iterable[Mapping[str, Any]],
    action: str,
    *,
    note: str | None = None,
    by: str | None = None,
) -> BulkResolution:
    """Resolve each open item of ``rows`` (``id`` and ``suggested_action``, as
    ``queries.review_queue.list_open`` gives them) with ``action``."""
    done = BulkResolution()
    for row in rows:
        item_id = int(row["id"])
        chosen = row.get("suggested_action") if action == SUGGESTED else action
        if not chosen:
            done.left[item_id] = "no suggested action"
            continue
        try:
            resolve_now(runtime, item_id, str(chosen), note=note, by=by)
        except OutreachError as exc:
            done.left[item_id] = str(exc)
            continue
        done.resolved[item_id] = str(chosen)
    return done


__all__ = ["SUGGESTED", "BulkResolution", "resolve_many"]
