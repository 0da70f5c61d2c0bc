"""``outreach events``: feed website and webinar events in from a CSV file."""

from __future__ import annotations

from worker.cli.root import main


@main.group()
def events() -> None:
    """Engagement events from outside (website, webinars): import them for scoring."""


__all__ = ["events"]
