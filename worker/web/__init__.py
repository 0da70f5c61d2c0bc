"""The web app (``outreach web``): unsubscribe pages today; each area is a blueprint."""

from __future__ import annotations

from worker.web.app import MAX_BODY_BYTES, create_app, current_runtime, make_server, stop_server

__all__ = ["MAX_BODY_BYTES", "create_app", "current_runtime", "make_server", "stop_server"]
