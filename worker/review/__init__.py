"""Reps at work on the review queue: resolving an item (applied to the lead, with a note) or
many at once, assigning items, the reps' accounts, and settling "delivery unknown" items with
evidence from the mailbox's Sent folder; undoing a resolution for a short while after it.
"""

from __future__ import annotations

from worker.review.assignment import assign
from worker.review.bulk import resolve_many
from worker.review.evidence import check_sent_folders
from worker.review.reps import (
    add_rep,
    authenticate,
    list_reps,
    remove_rep,
    set_password,
    update_rep,
)
from worker.review.resolutions import ACTIONS, resolve, resolve_now
from worker.review.undo import undo, undo_now

__all__ = [
    "ACTIONS",
    "add_rep",
    "assign",
    "authenticate",
    "check_sent_folders",
    "list_reps",
    "remove_rep",
    "resolve",
    "resolve_many",
    "resolve_now",
    "set_password",
    "undo",
    "undo_now",
    "update_rep",
]
