"""How log lines look: text, or one JSON object per line (``OUTREACH_LOG_FORMAT=json``).

Used where logging is configured: the ``outreach`` command line (``worker.cli.logs``) and the
start of a ``dramatiq worker.actors`` process (``worker.actors``). Imports nothing heavy, so it
can run before the modules that log while they load (Alembic).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message`` and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def in_dramatiq_command() -> bool:
    """True in ``dramatiq …`` and its worker processes (they keep the command's argv)."""
    command = sys.argv[0] if sys.argv else ""
    return Path(command).name == "dramatiq" or command.endswith("dramatiq/__main__.py")


def configure_worker_process_logging(log_format: str | None) -> None:
    """In a ``dramatiq worker.actors`` process (dramatiq's command line set up the handlers):
    our lines at INFO, Alembic at WARNING, and one JSON object per line when asked."""
    logging.getLogger("worker").setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if (log_format or "text").strip().lower() == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())


__all__ = [
    "TEXT_FORMAT",
    "JsonFormatter",
    "configure_worker_process_logging",
    "in_dramatiq_command",
]
