"""``GET /healthz``: 200 "ok" while the app reaches its database and every registered process
(scheduler, workers, a cron run in progress) is beating; else 503 with one line per problem."""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from sqlalchemy import text

from worker.operations.heartbeats import health_problems
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    runtime = current_runtime()
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        with runtime.sessions() as session:
            problems = health_problems(session, runtime.settings)
    except Exception as exc:  # any failure is "not healthy", never a trace
        log.warning("health check: database unavailable: %s", exc)
        return Response("database unavailable", 503, mimetype="text/plain")
    if problems:
        return Response("\n".join(problems) + "\n", 503, mimetype="text/plain")
    return Response("ok", 200, mimetype="text/plain")
