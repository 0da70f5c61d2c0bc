"""Send-time gates: checks just before a touch's hand-over that may postpone it (never skip it).

A gate answers "not now, but at T" — outside the lead's send window, a mailbox over its daily
limit or too soon after its last send, a paused mailbox. The touch then goes back to the queue
with ``available_at = T``; nothing is lost and nothing is sent twice. Gates run in order, and
a gate that reserves capacity (a mailbox's daily count) runs last, so a postponement by an
earlier gate never uses capacity up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .claiming import Prepared
from .runtime import Runtime


@dataclass(frozen=True)
class Postpone:
    """Send the touch no earlier than ``until``, because of ``reason``."""

    until: datetime
    reason: str


Gate = Callable[[Runtime, Prepared, datetime], Postpone | None]


def gates() -> tuple[Gate, ...]:
    """The gates, in the order they run (capacity-reserving gates last)."""
    from .mailbox_limits import mailbox_gate  # reserves a send: keep it last
    from .windows import window_gate  # the lead's send window (schedules.yaml)

    return (window_gate, mailbox_gate)


def first_postponement(runtime: Runtime, item: Prepared, now: datetime) -> Postpone | None:
    """The first gate that says "not now", or None when the touch may go out."""
    for gate in gates():
        postponed = gate(runtime, item, now)
        if postponed is not None:
            return postponed
    return None
