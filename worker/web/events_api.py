"""``POST /api/events``: an engagement event from outside the email (the website, a webinar
tool) for a known lead, recorded as an ``activity`` event and a scoring mark.

Off (404) until ``OUTREACH_EVENTS_API_KEY`` is set; the key comes as ``Authorization: Bearer
<key>`` and is compared in constant time. Rate-limited per client address
(``OUTREACH_EVENTS_API_LIMIT``). JSON in, JSON out, errors included: 401 without the key, 404
``{"error", "field": "email"}`` for an address that is no lead, 422 ``{"errors": {field:
message}}`` for a bad field, 201 ``{"status": "recorded", "lead_id"}`` when recorded. Body:
``{"email", "type", "at" (ISO 8601, optional), "detail" (object, optional)}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from flask import Blueprint, Flask, abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from worker.errors import NotFoundError
from worker.runtime import Runtime
from worker.tracking.activities import parse_activity, record_activity
from worker.web.context import current_runtime
from worker.web.limits import limit

log = logging.getLogger(__name__)
blueprint = Blueprint("events_api", __name__)
_ERRORS = {
    400: "The request could not be understood.",
    401: "Send the events API key as 'Authorization: Bearer <key>'.",
    404: "Not found.",
    405: "Use POST.",
    413: "The body is larger than 10 kB.",
    415: "Send the event as JSON with 'Content-Type: application/json'.",
    429: "Too many requests from your address; wait a minute and retry.",
    500: "Something went wrong; try again in a few minutes.",
}


def init_app(app: Flask, runtime: Runtime) -> None:
    """Register the API, its CSRF exemption (the key is the credential) and its rate limit."""
    app.register_blueprint(blueprint)
    app.extensions["csrf"].exempt(blueprint)
    limit(app, "events_api.post_event", runtime.settings.events_api_limit)


@blueprint.route("/api/events", methods=["POST", "GET", "PUT", "PATCH", "DELETE"])
def post_event() -> ResponseReturnValue:
    runtime = current_runtime()
    key = runtime.settings.events_api_key
    if not key:
        abort(404)
    if request.method != "POST":
        abort(405, valid_methods=["POST"])
    if not _authorized(key):
        log.warning("events API: missing or wrong key from %s", request.remote_addr)
        return _error(401, headers={"WWW-Authenticate": 'Bearer realm="events"'})
    if request.mimetype != "application/json":
        return _error(415)
    try:
        body = json.loads(request.get_data(cache=False))
    except ValueError as exc:
        return _error(400, f"The body is not valid JSON: {exc}.")
    except RecursionError:
        return _error(400, "The body is nested too deeply to be an event.")
    if not isinstance(body, dict):
        return _error(400, "The body must be a JSON object: email, type, at, detail.")
    now = runtime.clock.now()
    activity, errors = parse_activity(body, now)
    if activity is None:
        return jsonify(errors=errors), 422
    try:
        with runtime.sessions.begin() as session:
            lead_id = record_activity(session, activity, now, "api")
    except NotFoundError as exc:
        return jsonify(error=str(exc), field="email"), 404
    log.info("activity %r recorded for lead %r via the API", activity.type, lead_id)
    return jsonify(status="recorded", lead_id=lead_id), 201


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return _error(exc.code or 500, headers=headers)


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("%s %s failed", request.method, request.path)
    return _error(500)


def _error(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    text = message or _ERRORS.get(status, "The request could not be handled.")
    return jsonify(error=text), status, headers or {}


def _authorized(key: str) -> bool:
    """Whether the request carries ``Bearer <key>`` (compared as digests in constant time)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else ""
    expected = hashlib.sha256(key.encode()).digest()
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), expected) and bool(given)


__all__ = ["blueprint", "init_app"]
