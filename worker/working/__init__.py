"""What reps do to a lead: notes, calls, edits, stage changes, pause/resume/stop/enroll, bulk
actions and replies written in the app. One service for the web app, the command line and the
JSON API."""

from __future__ import annotations

from worker.working import bulk, lead_actions, replies, snippets
from worker.working.outcomes import Outcome

__all__ = [
    "Outcome",
    "bulk",
    "lead_actions",
    "replies",
    "snippets",
]
