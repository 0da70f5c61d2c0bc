"""Send-time gates: checks just before a touch's hand-over that may postpone it (never skip it).

A gate answers "not now, but at T" — outside the lead's send window, a mailbox over its daily
limit or too soon after its last send, a paused mailbox. The touch then goes back to the queue
with ``available_at = T``; nothing is lost and nothing is sent twice. Gates run in order, and
a gate that reserves capacity (a mailbox's daily count) runs last, so a postponement by an
earlier gate never uses capacity up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from worker.delivery.claiming import Prepared
from worker.leads.addresses import domain_of
from worker.mailboxes.capacity import reserve
from worker.runtime import Runtime
from worker.timing.postpone import Postpone
from worker.timing.windows import current_window, jitter_offset

# A gate gets the runtime, the touch, the time, and the mailboxes paused when its chunk began
# (mailbox → reason), so a mailbox without limits needs no database round trip per touch.
Gate = Callable[[Runtime, Prepared, datetime, Mapping[str, str] | None], Postpone | None]


def window_gate(
    runtime: Runtime, item: Prepared, now: datetime, paused: Mapping[str, str] | None = None
) -> Postpone | None:
    """Postpone a touch whose send window is closed (a batch still running at 17:00) to its
    next opening, with the lead's jitter."""
    loaded = runtime.catalog.sequences.get(item.sequence)
    name = loaded.spec.schedule if loaded is not None else None
    schedules = runtime.catalog.schedules
    schedule = schedules.by_name.get(name) if name else None
    if schedule is None:
        return None
    zone = schedules.zone(item.zone)
    opening, end = current_window(now, schedule, zone, item.country)
    if opening <= now:
        return None
    limit = min(schedule.jitter, end - opening)
    until = opening + jitter_offset(item.lead_id, item.sequence, item.step_index, limit)
    return Postpone(until.astimezone(UTC), f"outside send window {name} ({zone})")


def mailbox_gate(
    runtime: Runtime, item: Prepared, now: datetime, paused: Mapping[str, str] | None = None
) -> Postpone | None:
    """Postpone the touch while its mailbox is paused or out of capacity; else reserve a send."""
    return reserve(runtime, item.mailbox, domain_of(item.built.recipient), now, paused)


def gates() -> tuple[Gate, ...]:
    """The gates, in the order they run (the capacity-reserving gate last)."""
    return (window_gate, mailbox_gate)


def first_postponement(
    runtime: Runtime, item: Prepared, now: datetime, paused: Mapping[str, str] | None = None
) -> Postpone | None:
    """The first gate that says "not now", or None when the touch may go out."""
    for gate in gates():
        postponed = gate(runtime, item, now, paused)
        if postponed is not None:
            return postponed
    return None


__all__ = ["Gate", "first_postponement", "gates", "mailbox_gate", "window_gate"]
