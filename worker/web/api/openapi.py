"""The API's contract: ``openapi.yaml`` beside this module (OpenAPI 3.1, written by hand),
served as JSON at ``GET /api/v1/openapi.json`` without a key; and the JSON 404/405 for any
other path under ``/api/v1``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from worker.web.api.gate import blueprint, error_response

DOCUMENT = Path(__file__).with_name("openapi.yaml")
_PROBED = ("GET", "POST", "PATCH")


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document (read once)."""
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


@blueprint.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(document())


@blueprint.route(
    "/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], endpoint="no_such_path"
)
def no_such_path(rest: str) -> ResponseReturnValue:
    """404 for a path the API does not have; 405 (with ``Allow``) for a method one lacks."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in _PROBED:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api_v1.no_such_path":
            allowed.append(method)
    if allowed:
        return error_response(405, headers=[("Allow", ", ".join(allowed))])
    return error_response(404, f"No such path {request.path!r} — see /api/v1/openapi.json")


__all__ = ["document", "no_such_path", "openapi_document"]
