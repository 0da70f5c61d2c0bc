"""Where a lead in flight lands when its sequence changes: the ``on_change`` policies, pure.

A lead's position is the step it is due next (``Enrollment.current_step`` in the version it
runs). ``had`` are the step ids it already got (any touch that was not skipped); the touches
table keeps one row per (enrollment, step id), so none of them is ever sent again.

- ``migrate`` (default): the lead keeps its place, found by step id. The step it was due
  stays due wherever it moved. When that step was removed, the lead goes on right after the
  furthest step (in the new order) it already passed. Steps it had are passed over. A new
  step placed before the lead's position is not sent to it; a removed step it was still to
  get never is (both are counted in the plan and the removed ones on its timeline).
- ``finish``: the lead finishes the version it started, rendered from that version's stored
  templates; leads enrolled later get the new version.
- ``restart``: the lead starts again at step 1 of the new version, passing over every step
  it already had (one email is never sent twice; give a step a new ``id:`` to send it again).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

POLICIES = ("migrate", "finish", "restart")


@dataclass(frozen=True)
class Move:
    """What a change does to one lead: where it lands, and what it will now never get."""

    policy: str
    version: str  # the version the lead runs afterwards
    position: int  # its ``current_step`` in that version (== len(steps): past the last)
    landing: str | None  # the id of the step it is due next (None: no step left)
    dropped: tuple[str, ...]  # removed steps it was still to get: never sent to it now
    behind: tuple[str, ...]  # steps of the new version before its position it never had

    @property
    def finishing(self) -> bool:
        """True when the lead stays on its old version (``finish``)."""
        return self.policy == "finish"


def decide(
    policy: str,
    old_ids: Sequence[str],
    new_ids: Sequence[str],
    position: int,
    had: Collection[str],
    *,
    old_version: str,
    new_version: str,
) -> Move:
    """Where a lead at ``position`` of ``old_ids`` goes under ``policy`` in ``new_ids``."""
    if policy not in POLICIES:
        raise ValueError(f"unknown on_change policy {policy!r}")
    remaining = list(old_ids[position:])
    if policy == "finish":
        landing = old_ids[position] if position < len(old_ids) else None
        return Move(policy, old_version, position, landing, (), ())
    start = 0 if policy == "restart" else _migrated_position(old_ids, new_ids, position)
    start = _past_had(new_ids, start, had)
    ahead = set(new_ids[start:])
    dropped = tuple(i for i in remaining if i not in ahead and i not in had)
    behind = tuple(i for i in new_ids[:start] if i not in had and i not in dropped)
    landing = new_ids[start] if start < len(new_ids) else None
    return Move(policy, new_version, start, landing, dropped, behind)


def _migrated_position(old_ids: Sequence[str], new_ids: Sequence[str], position: int) -> int:
    """The due step's new place; when it is gone, right after the furthest passed step."""
    if position < len(old_ids) and old_ids[position] in new_ids:
        return list(new_ids).index(old_ids[position])
    passed = [new_ids.index(i) for i in old_ids[:position] if i in new_ids]
    return max(passed) + 1 if passed else 0


def _past_had(new_ids: Sequence[str], start: int, had: Collection[str]) -> int:
    while start < len(new_ids) and new_ids[start] in had:
        start += 1
    return start


__all__ = ["POLICIES", "Move", "decide"]
