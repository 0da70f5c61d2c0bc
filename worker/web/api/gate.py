"""The door of ``/api/v1``: the blueprint, the API key and its scope, the rate-limit key, the
JSON body, and one error shape for every answer that is not a success::

    {"error": {"code": "invalid", "message": "…", "fields": [{"field": "stage", "message": "…"}]}}
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from worker.errors import FieldError, NotFoundError, OutreachError
from worker.integrations.api_keys import allows, authenticate
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = frozenset({"api_v1.openapi_document", "api_v1.no_such_path"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Error codes by HTTP status (the ``code`` of an error body).
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
}
_MESSAGES = {
    400: "The request could not be understood.",
    401: "Send an API key as 'Authorization: Bearer ok_…' (create one with "
    "'outreach api-keys create NAME').",
    403: "This API key may only read — create a key with '--scope write' to change leads.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The body is larger than 10 kB.",
    415: "Send the body as JSON with 'Content-Type: application/json'.",
    429: "Too many requests with this API key — wait and retry (see Retry-After).",
    500: "Something went wrong; try again in a few minutes.",
}


@dataclass
class ApiError(Exception):
    """Raised by a view for an answer in the API's error shape."""

    status: int
    message: str
    fields: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def invalid(problems: Iterable[tuple[str, str]]) -> ApiError:
    """A 422 naming each bad field (``problems``: (field, message) pairs)."""
    fields = [{"field": name, "message": message} for name, message in problems]
    first = fields[0]["message"] if fields else "The request is invalid."
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return ApiError(422, f"{first}{more}", fields)


def error_response(
    status: int,
    message: str | None = None,
    fields: list[dict[str, str]] | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> ResponseReturnValue:
    body = {
        "error": {
            "code": CODES.get(status, "error"),
            "message": message or _MESSAGES.get(status, "The request could not be handled."),
            "fields": fields or [],
        }
    }
    return jsonify(body), status, list(headers)


def presented_key() -> str:
    """The bearer token of the request ('' without one)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def rate_key() -> str:
    """What rate limits count by: the presented key (as a digest), else the address."""
    token = presented_key()
    if token:
        return "api-key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "api-addr:" + (get_remote_address() or "unknown")


@blueprint.before_request
def _require_key() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    runtime = current_runtime()
    token = presented_key()
    with runtime.sessions.begin() as session:
        key = authenticate(session, token, at=runtime.clock.now()) if token else None
        name, scope = (key.name, key.scope) if key is not None else (None, None)
    challenge = [("WWW-Authenticate", 'Bearer realm="api"')]
    if name is None or scope is None:
        log.warning("API: missing, unknown or revoked key from %s", request.remote_addr)
        message = "This API key is unknown or revoked — check it with 'outreach api-keys list'."
        return error_response(401, message if token else None, headers=challenge)
    needed = "read" if request.method in READ_METHODS else "write"
    if not allows(scope, needed):
        return error_response(403)
    g.api_key = name
    return None


def key_name() -> str:
    """The name of the API key of this request (for events' ``by``)."""
    name: str = g.api_key
    return name


def json_object() -> dict[str, Any]:
    """The request's JSON object; ApiError (415, 400) for anything else."""
    if request.mimetype != "application/json":
        raise ApiError(415, _MESSAGES[415])
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ApiError(400, f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise ApiError(400, "The body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return body


def refuse_unknown(body: dict[str, Any], allowed: Iterable[str]) -> None:
    """422 for every key of ``body`` not in ``allowed``."""
    known = set(allowed)
    unknown = [key for key in body if key not in known]
    if unknown:
        names = ", ".join(sorted(known))
        raise invalid((key, f"unknown field {key!r} — use {names}") for key in unknown)


def _api_error(exc: ApiError) -> ResponseReturnValue:
    return error_response(exc.status, exc.message, exc.fields, exc.headers.items())


def _field_error(exc: FieldError) -> ResponseReturnValue:
    return error_response(422, str(exc), [{"field": exc.field, "message": str(exc)}])


def _not_found(exc: NotFoundError) -> ResponseReturnValue:
    return error_response(404, str(exc))


def _conflict(exc: OutreachError) -> ResponseReturnValue:
    return error_response(409, str(exc))


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    # A 429's Retry-After and X-RateLimit-* headers are added by Flask-Limiter.
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return error_response(exc.code or 500, headers=headers)


def _unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("%s %s failed", request.method, request.path)
    return error_response(500)


blueprint.register_error_handler(ApiError, _api_error)
blueprint.register_error_handler(FieldError, _field_error)
blueprint.register_error_handler(NotFoundError, _not_found)
blueprint.register_error_handler(OutreachError, _conflict)
blueprint.register_error_handler(HTTPException, _http_error)
blueprint.register_error_handler(Exception, _unexpected)


__all__ = [
    "ApiError",
    "blueprint",
    "error_response",
    "invalid",
    "json_object",
    "key_name",
    "presented_key",
    "rate_key",
    "refuse_unknown",
]
