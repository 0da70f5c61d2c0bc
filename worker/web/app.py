"""Build the Flask app around a Runtime, and the waitress server that serves it.

Each area of the app is a blueprint in its own module; pages extend ``templates/base.html``.
Everything but the public blueprints (``auth.PUBLIC``) needs a signed-in rep; every form
carries a CSRF token, except the unsubscribe POST (RFC 8058 one-click comes without cookies),
the tracked links (``/c/``, ``/o/``: GET only) and the JSON APIs (their key is the
credential). Requests open short database sessions from the runtime.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from flask import Flask, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from worker.runtime import Runtime
from worker.web import (
    api,
    auth,
    board,
    capture,
    error_pages,
    events_api,
    health,
    lead_actions,
    leads,
    mailbox_admin,
    metrics,
    people,
    privacy,
    queue,
    replies,
    reports,
    security,
    times,
    tracking,
    unsubscribe,
    wording,
)
from worker.web.context import current_runtime, install_runtime
from worker.web.limits import init_limiter, limit

MAX_BODY_BYTES = 10 * 1024
# waitress refuses larger bodies before the app sees them (the app answers above 10 kB).
MAX_WIRE_BODY_BYTES = 1024 * 1024


def create_app(runtime: Runtime) -> Flask:
    """The web app serving ``runtime``'s database."""
    app = Flask(__name__)
    settings = runtime.settings
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        MAX_FORM_PARTS=20,
        PROPAGATE_EXCEPTIONS=False,
        TEMPLATES_AUTO_RELOAD=False,
        # Engine, migrations and signing key ready before any request.
        SECRET_KEY=hmac.new(runtime.secret, b"web sessions", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_NAME="outreach_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.web_session_hours),
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session is
        WTF_CSRF_SSL_STRICT=True,
    )
    if settings.web_proxies:
        proxies = settings.web_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    install_runtime(app, runtime)
    name = _site_name(runtime)
    app.context_processor(lambda: {"site_name": name})
    security.init_app(app)
    error_pages.init_app(app)
    times.init_app(app)
    wording.init_app(app)
    auth.init_app(app)
    csrf = CSRFProtect(app)
    init_limiter(app, runtime)
    pages = (
        queue.blueprint,
        board.blueprint,
        leads.blueprint,
        lead_actions.blueprint,
        reports.blueprint,
        people.blueprint,
        mailbox_admin.blueprint,
        replies.blueprint,
        privacy.blueprint,
    )
    public = (
        health.blueprint,
        metrics.blueprint,
        unsubscribe.blueprint,
        tracking.blueprint,
        auth.blueprint,
    )
    for blueprint in (*public, *pages):
        app.register_blueprint(blueprint)
    csrf.exempt(unsubscribe.blueprint)
    csrf.exempt(tracking.blueprint)
    app.add_url_rule("/", "home", _home)
    limit(app, "auth.login_post", auth.SIGN_IN_LIMIT)
    capture.init_app(app, runtime)
    events_api.init_app(app, runtime)
    api.init_app(app, runtime)
    return app


def _home() -> ResponseReturnValue:
    return redirect(url_for("queue.index"))


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
