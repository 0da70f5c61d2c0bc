"""Error pages for people and mail providers: a plain page with the status, never a trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_PAGES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Please sign in", "Your session has ended. Sign in again and repeat what you did."),
    403: ("Admins only", "Only an admin can do this. Ask an admin of your team."),
    429: ("Too many requests", "Too many requests from your address. Wait a minute and retry."),
    404: (
        "Link not valid",
        "This link is not valid. If you copied it from an email, check that you copied all of it.",
    ),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Request too large", "The request was larger than this page accepts."),
    500: ("Something went wrong", "Please try again in a few minutes."),
}


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def page(status: int) -> tuple[str, int]:
    """The error page for ``status``."""
    title, text = _PAGES.get(status, (f"Error {status}", "The request could not be handled."))
    return render_template("error.html", title=title, text=text, status=status), status


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if exc.code is None or exc.code < 400:
        return exc  # redirects raised by routing
    if isinstance(exc, CSRFError):
        log.warning("%s %s refused: %s", request.method, request.path, exc.description)
        text = (
            "The form had expired or did not come from this site, so nothing was changed. "
            "Go back, reload the page and try again."
        )
        return render_template("error.html", title="Form expired", text=text, status=400), 400
    body, status = page(exc.code)
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return body, status, headers


def _unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("%s %s failed", request.method, request.path)
    return page(500)
