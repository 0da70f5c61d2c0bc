"""Build the Flask app around a Runtime, and the waitress server that serves it.

Each area of the app is a blueprint in its own module (``unsubscribe``, ``health``); pages
extend ``templates/base.html``. Requests open short database sessions from the runtime.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..runtime import Runtime
from . import error_pages, health, security, unsubscribe
from .context import current_runtime, install_runtime

MAX_BODY_BYTES = 10 * 1024
# waitress refuses larger bodies before the app sees them (the app answers above 10 kB).
MAX_WIRE_BODY_BYTES = 1024 * 1024


def create_app(runtime: Runtime) -> Flask:
    """The web app serving ``runtime``'s database."""
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        MAX_FORM_PARTS=20,
        PROPAGATE_EXCEPTIONS=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    install_runtime(app, runtime)
    runtime.secret  # noqa: B018 (engine, migrations and signing key ready before any request)
    name = _site_name(runtime)
    app.context_processor(lambda: {"site_name": name})
    security.init_app(app)
    error_pages.init_app(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(unsubscribe.blueprint)
    return app


def make_server(app: Flask, host: str, port: int, *, threads: int = 4) -> Any:
    """A waitress server for ``app``, listening already (port 0: any free port, see
    ``.effective_port``); ``.run()`` serves until ``stop_server`` is called."""
    from waitress import create_server

    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=MAX_WIRE_BODY_BYTES,
        ident="outreach",
    )


def stop_server(server: Any) -> None:
    """Make a running server's loop close everything and return (safe from any thread)."""
    from waitress import wasyncore

    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))


def _site_name(runtime: Runtime) -> str:
    """The sending company, as the pages name it."""
    try:
        companies = [m.company for m in runtime.mailboxes.by_name.values() if m.company]
    except Exception:  # no or broken mailboxes.yaml: `outreach check` reports it
        companies = []
    return companies[0] if companies else "Email preferences"


__all__ = ["MAX_BODY_BYTES", "create_app", "current_runtime", "make_server", "stop_server"]
