"""Engagement signals: tracked links (signed ``/c/TOKEN`` redirects) and open pixels that a
sequence opts into, the verdict that tells a person's click from a scanner's, and activities
from outside the email (website, webinars, a rep's calls). Everything recorded is an event on
the lead's timeline and marks the lead for scoring (``worker.scoring``)."""

from __future__ import annotations

from worker.tracking.activities import (
    CALL_OUTCOMES,
    Activity,
    log_call,
    parse_activity,
    record_activity,
)
from worker.tracking.clicks import ClickResult, record_click, record_open
from worker.tracking.importing import EventImport, import_events
from worker.tracking.links import Tracking, track_email
from worker.tracking.scanners import click_verdict, is_every_link, scanner_agent
from worker.tracking.tokens import (
    TrackedLink,
    click_token,
    open_token,
    read_click_token,
    read_open_token,
)

__all__ = [
    "CALL_OUTCOMES",
    "Activity",
    "ClickResult",
    "EventImport",
    "TrackedLink",
    "Tracking",
    "click_token",
    "click_verdict",
    "import_events",
    "is_every_link",
    "log_call",
    "open_token",
    "parse_activity",
    "read_click_token",
    "read_open_token",
    "record_activity",
    "record_click",
    "record_open",
    "scanner_agent",
    "track_email",
]
