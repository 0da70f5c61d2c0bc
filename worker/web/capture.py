"""Lead capture from the website: a public form (``GET``/``POST /capture``) and a JSON API
(``POST /api/leads``) that create a lead and enroll it in ``OUTREACH_CAPTURE_SEQUENCE``.
A form on the company's own website may post straight to ``/capture`` when its origin is
listed in ``OUTREACH_CAPTURE_ORIGINS`` (the browser's ``Origin`` header); any other post needs
the CSRF token of this app's own form page.

Capture is off (404) until that setting names a sequence; the API also needs
``OUTREACH_CAPTURE_API_KEY``, sent as ``Authorization: Bearer <key>``. Both are rate-limited
per client address (``OUTREACH_CAPTURE_FORM_LIMIT``, ``OUTREACH_CAPTURE_API_LIMIT``). The form
carries a CSRF token and a honeypot field that people leave empty; a filled honeypot gets the
thank-you page and nothing is stored. The API answers in JSON only, errors included. Known,
enrolled and suppressed addresses get the same answer as new ones (see ``worker.leads.capture``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from worker.leads.capture import CaptureResult, capture_lead, check_fields, text_fields
from worker.runtime import Runtime
from worker.web import page_language
from worker.web.context import current_runtime
from worker.web.json_api import json_body, json_errors
from worker.web.limits import limit

log = logging.getLogger(__name__)
blueprint = Blueprint("capture", __name__)
api_blueprint = Blueprint("capture_api", __name__)
FORM_FIELDS = ("email", "first_name", "last_name", "company", "country", "timezone", "language")
HONEYPOT = "website"
_API_ERRORS = {
    400: "The request could not be understood.",
    401: "Send the capture API key as 'Authorization: Bearer <key>'.",
    404: "Not found.",
    405: "Use POST.",
    413: "The body is larger than 10 kB.",
    415: "Send the lead as JSON with 'Content-Type: application/json'.",
    429: "Too many requests from your address; wait a minute and retry.",
    500: "Something went wrong; try again in a few minutes.",
}
json_errors(api_blueprint, _API_ERRORS)


def init_app(app: Flask, runtime: Runtime) -> None:
    """Register the capture blueprints, their CSRF exemption and rate limits."""
    app.register_blueprint(blueprint)
    app.register_blueprint(api_blueprint)
    csrf = app.extensions["csrf"]
    csrf.exempt(api_blueprint)
    # The form checks its CSRF token itself: a post from an allowed website carries none.
    csrf.exempt(f"{__name__}.form_post")
    settings = runtime.settings
    limit(app, "capture.form_post", settings.capture_form_limit)
    limit(app, "capture_api.create_lead", settings.capture_api_limit)


# --- the form ---------------------------------------------------------------------------


@blueprint.get("/capture")
def form() -> ResponseReturnValue:
    """The form, in the language its link asks for (``?lang=de``) or the browser's."""
    _sequence()
    language = page_language.of_visitor(request.args.get("lang"))
    return render_template(
        page_language.pages("capture/form.html", language),
        values={},
        errors={},
        honeypot=HONEYPOT,
        language=language,
    )


@blueprint.post("/capture")
def form_post() -> ResponseReturnValue:
    sequence = _sequence()
    if not _from_allowed_site():
        current_app.extensions["csrf"].protect()  # our own page's form: its token must match
    # The form's own language (a hidden field) becomes the lead's: it gets emails in it.
    language = page_language.of_visitor(request.form.get("language") or request.args.get("lang"))
    thanks = page_language.pages("capture/thanks.html", language)
    if request.form.get(HONEYPOT, "").strip():
        log.info("capture form: honeypot filled from %s; nothing stored", request.remote_addr)
        return render_template(thanks, language=language)
    values = {name: request.form.get(name, "")[:1000] for name in FORM_FIELDS}
    result = _capture(values, sequence, "form")
    if result.errors:
        page = render_template(
            page_language.pages("capture/form.html", language),
            values=values,
            errors=result.errors,
            honeypot=HONEYPOT,
            language=language,
        )
        return page, 400
    return render_template(thanks, language=language)


# --- the JSON API -----------------------------------------------------------------------


@api_blueprint.route("/api/leads", methods=["POST", "GET", "PUT", "PATCH", "DELETE"])
def create_lead() -> ResponseReturnValue:
    sequence = _sequence()
    body = json_body(
        current_runtime().settings.capture_api_key,
        realm="capture",
        messages=_API_ERRORS,
        thing="a lead",
        shape="a JSON object of lead fields",
    )
    if not isinstance(body, dict):
        return body
    values, errors = text_fields(body)
    if errors:
        _, more = check_fields(values)
        return jsonify(errors={**more, **errors}), 422
    result = _capture(values, sequence, "api")
    if result.errors:
        return jsonify(errors=result.errors), 422
    return jsonify(status="accepted"), 201


def _from_allowed_site() -> bool:
    """Whether the browser says the form was posted from a page of an allowed website
    (``OUTREACH_CAPTURE_ORIGINS``); such a form has no token of ours to carry."""
    origin = request.headers.get("Origin", "").rstrip("/").lower()
    return bool(origin) and origin in current_runtime().settings.capture_origins


# --- shared -----------------------------------------------------------------------------


def _sequence() -> str:
    """The sequence captured leads join; 404 while capture is off (or misconfigured)."""
    runtime = current_runtime()
    name = runtime.settings.capture_sequence
    if not name:
        abort(404)
    if name not in runtime.catalog:
        log.error(
            "OUTREACH_CAPTURE_SEQUENCE=%r is not a valid sequence in sequences/ — lead capture "
            "is off until it is fixed (run 'outreach validate')",
            name,
        )
        abort(404)
    return name


def _capture(values: dict[str, Any], sequence: str, source: str) -> CaptureResult:
    runtime = current_runtime()
    with runtime.sessions.begin() as session:
        result = capture_lead(
            session,
            runtime.catalog,
            values,
            sequence=sequence,
            at=runtime.clock.now(),
            source=source,
        )
    if result.accepted:
        log.info(
            "captured lead %s via %s (%s, %s)",
            result.lead_id,
            source,
            "new" if result.created else "existing",
            "enrolled" if result.enrolled else "not enrolled",
        )
    return result
