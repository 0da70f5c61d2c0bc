"""Reps at work on the review queue: resolving an item (applied to the lead, with a note),
assigning items, and the reps' accounts.
"""

from __future__ import annotations

from worker.review.assignment import assign
from worker.review.reps import add_rep, authenticate, list_reps, remove_rep, set_password
from worker.review.resolutions import ACTIONS, resolve, resolve_now

__all__ = [
    "ACTIONS",
    "add_rep",
    "assign",
    "authenticate",
    "list_reps",
    "remove_rep",
    "resolve",
    "resolve_now",
    "set_password",
]
