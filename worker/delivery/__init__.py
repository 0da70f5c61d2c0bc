"""The send path: the tick writes one touch per (enrollment, step); a worker claims it,
re-checks it, renders it, passes the send-time gates, hands it over and records the result.
"""

from __future__ import annotations

from worker.delivery.claiming import Prepared, claim_and_prepare
from worker.delivery.gates import first_postponement
from worker.delivery.rendering import build_message, render_touch
from worker.delivery.sending import send_touches
from worker.delivery.tick import TickResult, tick

__all__ = [
    "Prepared",
    "TickResult",
    "build_message",
    "claim_and_prepare",
    "first_postponement",
    "render_touch",
    "send_touches",
    "tick",
]
