"""Signing in and out, and the rule that every page needs a signed-in rep.

Only the blueprints in ``PUBLIC`` (unsubscribe, lead capture, tracked links, the events API,
health, sign-in itself) and static files are served without a session. A session remembers
the rep's name and a version that changes with the password, so changing a password or
removing the account ends every session of that rep at its next request. Every form carries
a CSRF token (Flask-WTF).

The rep's role and time zone are read with the session check, once per request, and kept on
``flask.g``: ``is_admin()`` and ``@admin_required`` (a 403 page for a rep) guard what only
admins do (manage reps, pause mailboxes, settings); templates see ``rep_is_admin``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from worker.review.reps import ADMIN, authenticate, profile
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)
PUBLIC = frozenset(
    {
        "auth",
        "health",
        "metrics",
        "unsubscribe",
        "capture",
        "capture_api",
        "tracking",
        "events_api",
        "api_v1",
    }
)
SIGN_IN_LIMIT = "10 per minute"
P = ParamSpec("P")
R = TypeVar("R")


def init_app(app: Flask) -> None:
    app.before_request(_require_rep)
    app.context_processor(lambda: {"rep": g.get("rep"), "rep_is_admin": is_admin()})


def current_rep() -> str:
    """The signed-in rep's name (every non-public view has one)."""
    rep: str = g.rep
    return rep


def current_role() -> str:
    """The signed-in rep's role, ``admin`` or ``rep`` ('' on public pages)."""
    role: str = g.get("rep_role", "")
    return role


def is_admin() -> bool:
    return current_role() == ADMIN


def current_timezone() -> str | None:
    """The signed-in rep's IANA time zone; None on public pages (no rep there)."""
    zone: str | None = g.get("rep_timezone")
    return zone


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """Serve ``view`` to admins only; a rep gets the 403 page."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        if not is_admin():
            log.warning(
                "rep %r refused %s %s (admins only)", g.get("rep"), request.method, request.path
            )
            abort(403)
        return view(*args, **kwargs)

    return guarded


def _require_rep() -> ResponseReturnValue | None:
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static" or request.blueprint in PUBLIC:
        return None
    name, version = session.get("rep"), session.get("v")
    if isinstance(name, str) and isinstance(version, str):
        with current_runtime().sessions() as db:
            signed_in = profile(db, name)
        if signed_in is not None and signed_in.version == version:
            g.rep, g.rep_role, g.rep_timezone = name, signed_in.role, signed_in.timezone
            return None
        session.clear()
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)
    return None  # unreachable: abort raises


@blueprint.get("/login")
def login() -> ResponseReturnValue:
    return render_template("auth/login.html", next=_safe_next(request.args.get("next")))


@blueprint.post("/login")
def login_post() -> ResponseReturnValue:
    name = request.form.get("name", "")[:200]
    password = request.form.get("password", "")[:1000]
    target = _safe_next(request.form.get("next"))
    with current_runtime().sessions() as db:
        signed_in = authenticate(db, name, password)
    if signed_in is None:
        log.warning("failed sign-in for %r from %s", name, request.remote_addr)
        page = render_template(
            "auth/login.html", next=target, name=name, error="Wrong name or password."
        )
        return page, 401
    session.clear()
    session.permanent = True
    session["rep"], session["v"] = signed_in.name, signed_in.version
    log.info("rep %r signed in from %s", signed_in.name, request.remote_addr)
    return redirect(target or url_for("home"))


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """A path on this site to return to after signing in; anything else is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target
