"""Rate limits per client address (Flask-Limiter): in Redis when the runtime uses Redis, so
every web process shares the counts, else in this process's memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from worker.runtime import Runtime

_EXTENSION = "outreach_limiter"


def init_limiter(app: Flask, runtime: Runtime) -> Limiter:
    """A limiter for ``app`` (one per app; limits are added with ``limit``)."""
    settings = runtime.settings
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        key_prefix=f"{settings.redis_namespace}:web-limits",
        headers_enabled=True,
        # Redis down must not lock everyone out; the counts fall back to this process.
        in_memory_fallback_enabled=bool(settings.redis_url),
        swallow_errors=True,
    )
    app.extensions[_EXTENSION] = limiter
    return limiter


def limit(app: Flask, endpoint: str, rule: str, methods: Iterable[str] = ("POST",)) -> None:
    """Apply ``rule`` (e.g. ``"10 per minute"``) to ``endpoint`` for ``methods``."""
    limiter: Limiter = app.extensions[_EXTENSION]
    view: Callable[..., Any] = app.view_functions[endpoint]
    app.view_functions[endpoint] = limiter.limit(rule, methods=list(methods))(view)
