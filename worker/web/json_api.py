"""What the app's JSON APIs (``/api/leads``, ``/api/events``) share: the bearer key in
constant time, the request gate (key set, POST, key, JSON object) and JSON errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def authorized(key: str) -> bool:
    """Whether the request carries ``Bearer <key>`` (compared as digests in constant time)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else ""
    expected = hashlib.sha256(key.encode()).digest()
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), expected) and bool(given)


def error(
    messages: Mapping[int, str],
    status: int,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """``{"error": …}`` with ``status``: ``message``, else the API's text for the status."""
    text = message or messages.get(status, "The request could not be handled.")
    return jsonify(error=text), status, headers or {}


def json_errors(blueprint: Blueprint, messages: Mapping[int, str]) -> None:
    """Answer every error of ``blueprint`` in JSON, an unexpected one logged as a 500."""

    def http_error(exc: HTTPException) -> ResponseReturnValue:
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error(messages, exc.code or 500, headers=headers)

    def unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("%s %s failed", request.method, request.path)
        return error(messages, 500)

    blueprint.register_error_handler(HTTPException, http_error)
    blueprint.register_error_handler(Exception, unexpected)


def json_body(
    key: str | None, *, realm: str, messages: Mapping[int, str], thing: str, shape: str
) -> dict[str, Any] | ResponseReturnValue:
    """The request's JSON object, or the response refusing it: 404 while the API has no key,
    405 unless POST, 401 without the key, 415 unless JSON, 400 for a body that is not
    ``shape`` (a JSON object)."""
    if not key:
        abort(404)
    if request.method != "POST":
        abort(405, valid_methods=["POST"])
    if not authorized(key):
        log.warning("%s API: missing or wrong key from %s", realm, request.remote_addr)
        return error(messages, 401, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})
    if request.mimetype != "application/json":
        return error(messages, 415)
    try:
        body = json.loads(request.get_data(cache=False))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return error(messages, 400, f"The body is not valid JSON: {exc}.")
    except RecursionError:
        return error(messages, 400, f"The body is nested too deeply to be {thing}.")
    if not isinstance(body, dict):
        return error(messages, 400, f"The body must be {shape}.")
    return body


__all__ = ["authorized", "error", "json_body", "json_errors"]
