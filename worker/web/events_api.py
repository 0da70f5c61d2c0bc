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

import logging

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue

from worker.errors import NotFoundError
from worker.runtime import Runtime
from worker.tracking.activities import parse_activity, record_activity
from worker.web.context import current_runtime
from worker.web.json_api import json_body, json_errors
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


json_errors(blueprint, _ERRORS)


def init_app(app: Flask, runtime: Runtime) -> None:
    """Register the API, its CSRF exemption (the key is the credential) and its rate limit."""
    app.register_blueprint(blueprint)
    app.extensions["csrf"].exempt(blueprint)
    limit(app, "events_api.post_event", runtime.settings.events_api_limit)


@blueprint.route("/api/events", methods=["POST", "GET", "PUT", "PATCH", "DELETE"])
def post_event() -> ResponseReturnValue:
    runtime = current_runtime()
    body = json_body(
        runtime.settings.events_api_key,
        realm="events",
        messages=_ERRORS,
        thing="an event",
        shape="a JSON object: email, type, at, detail",
    )
    if not isinstance(body, dict):
        return body
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


__all__ = ["blueprint", "init_app"]
