"""Calendar arithmetic, pure: waits in days, business days or hours, send windows with
holidays and jitter in the lead's time zone, and the "not before" answer of a send-time gate.
"""

from __future__ import annotations

from worker.timing.postpone import Postpone
from worker.timing.waits import add_wait, lead_zone
from worker.timing.windows import country_code, current_window, due_after, due_at, next_opening

__all__ = [
    "Postpone",
    "add_wait",
    "country_code",
    "current_window",
    "due_after",
    "due_at",
    "lead_zone",
    "next_opening",
]
