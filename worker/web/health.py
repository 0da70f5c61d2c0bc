"""``GET /healthz``: 200 "ok" while the app can reach its database, else 503."""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from sqlalchemy import text

from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    try:
        with current_runtime().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure is "not healthy", never a trace
        log.warning("health check: database unavailable: %s", exc)
        return Response("database unavailable", 503, mimetype="text/plain")
    return Response("ok", 200, mimetype="text/plain")
