"""A send-time answer of "not now": the earliest time to try again, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Postpone:
    """Send the touch no earlier than ``until``, because of ``reason``."""

    until: datetime
    reason: str


__all__ = ["Postpone"]
