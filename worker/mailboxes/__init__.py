"""Sending mailboxes at work: which mailbox of a pool writes to a lead, the one limits
decision (engine and ``simulate``), counting sends across processes, and pausing mailboxes.
"""

from __future__ import annotations

from worker.mailboxes.capacity import reserve, sent_since, usage_on
from worker.mailboxes.limits import Limits, Usage, day_of, decide, limits_for, next_day_start
from worker.mailboxes.pauses import (
    after_failure,
    check_mailboxes,
    pause_mailbox,
    pause_states,
    resume_mailbox,
)
from worker.mailboxes.pools import choose_mailboxes

__all__ = [
    "Limits",
    "Usage",
    "after_failure",
    "check_mailboxes",
    "choose_mailboxes",
    "day_of",
    "decide",
    "limits_for",
    "next_day_start",
    "pause_mailbox",
    "pause_states",
    "reserve",
    "resume_mailbox",
    "sent_since",
    "usage_on",
]
