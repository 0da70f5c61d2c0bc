"""Tracked links and open pixels: ``GET /c/TOKEN`` records a click and redirects to the URL
signed into the token; ``GET /o/TOKEN`` records an open and answers a 1x1 GIF. Public, no
session, no CSRF token (nothing changes but the log of engagement).

A forged, altered or truncated token is a 404 page and never a redirect: the only place
``/c/`` sends anyone is the ``http(s)`` URL the worker signed into the token when it rendered
the email (``worker.tracking.tokens``), so the app is never an open redirect. A HEAD request
is recorded as not counted and answered like a GET, without a body. When the click cannot
be recorded (the database is down) the person still gets where the link goes.
"""

from __future__ import annotations

import base64
import logging

from flask import Blueprint, Response, abort, redirect, request
from flask.typing import ResponseReturnValue

from worker.tracking.clicks import record_click, record_open
from worker.tracking.tokens import read_click_token, read_open_token
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("tracking", __name__)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}


@blueprint.get("/c/<token>")
def click(token: str) -> ResponseReturnValue:
    runtime = current_runtime()
    link = read_click_token(runtime.secret, token)
    if link is None:
        log.warning("tracked link refused: invalid token from %s", request.remote_addr)
        abort(404)
    settings = runtime.settings
    try:
        with runtime.sessions.begin() as session:
            result = record_click(
                session,
                link,
                at=runtime.clock.now(),
                method=request.method,
                user_agent=request.headers.get("User-Agent"),
                min_delay_s=settings.click_min_delay_s,
                burst_s=settings.click_burst_s,
            )
        log.info(
            "click %r on touch %r link %r: %s",
            result.click_id,
            link.touch_id,
            link.link,
            "counted" if result.counted else result.verdict,
        )
    except Exception:
        log.exception("click on touch %r link %r not recorded", link.touch_id, link.link)
    response = redirect(link.url, code=302)
    response.headers.update(_NO_STORE)
    return response


@blueprint.get("/o/<token>")
def pixel(token: str) -> ResponseReturnValue:
    runtime = current_runtime()
    touch_id = read_open_token(runtime.secret, token)
    if touch_id is None:
        abort(404)
    try:
        with runtime.sessions.begin() as session:
            record_open(
                session,
                touch_id,
                at=runtime.clock.now(),
                method=request.method,
                user_agent=request.headers.get("User-Agent"),
            )
    except Exception:
        log.exception("open of touch %r not recorded", touch_id)
    return Response(PIXEL, mimetype="image/gif", headers=_NO_STORE)


__all__ = ["PIXEL", "blueprint"]
