"""Rules every response follows: a bounded request body and defensive headers.

No cookies and no sessions are used by the unsubscribe pages: mail providers POST the RFC 8058
one-click request without any, and the signed token in the URL is the only credential.
"""

from __future__ import annotations

from flask import Flask, abort, request
from flask.wrappers import Response

HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}


def init_app(app: Flask) -> None:
    app.before_request(_limit_body)
    app.after_request(_add_headers)


def _limit_body() -> None:
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response
