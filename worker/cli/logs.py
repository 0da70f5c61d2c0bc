"""Logging for every ``outreach`` process, set up here at the command-line edge only.

In the processes an operator runs and watches (``OPERATIONS``: the cron batch, the scheduler,
the web app) the worker's own loggers (``worker.*``) speak at INFO: a line per run, batch
sent, inbox poll and state change that matters (sent, deferred, failed, unknown, a mailbox
paused), with ids. Interactive commands (``demo``, ``validate``, ``leads …``) print their
results and only warnings.
Libraries (Alembic, APScheduler, dramatiq, urllib3) speak at WARNING unless ``-v``; ``-vv``
is DEBUG for everything. ``OUTREACH_LOG_FORMAT=json`` writes one JSON object per line (time,
level, logger, message, and the values the line was logged with).
"""

from __future__ import annotations

import logging

from worker.operations.log_format import TEXT_FORMAT, JsonFormatter

OPERATIONS = frozenset({"run", "scheduler", "web", "worker"})


def configure_logging(verbose: int, log_format: str | None, command: str | None = None) -> None:
    """Levels for this process (``-v`` count; ``command``, the subcommand run) and, unless a
    handler is already set up (a test runner's), one handler on standard error in ``text``
    or ``json``."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        json_lines = (log_format or "text").strip().lower() == "json"
        handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING)
    own = logging.INFO if verbose or command in OPERATIONS else logging.WARNING
    logging.getLogger("worker").setLevel(logging.DEBUG if verbose >= 2 else own)


__all__ = [
    "OPERATIONS",
    "JsonFormatter",
    "configure_logging",
]
