"""The JSON API for integrations, ``/api/v1``: leads (list, read, create, change, enroll,
pause, resume, stop), the event log and the review queue, with API keys as the credential
(``worker.integrations.api_keys``), cursor pagination, one error shape, rate limits per key,
and the OpenAPI document (``openapi.yaml``) it is tested against."""

from __future__ import annotations

from flask import Flask

from worker.runtime import Runtime
from worker.web.api import event_log, lead_edits, leads, openapi, review_items, sequence_actions
from worker.web.api.gate import blueprint, rate_key


def init_app(app: Flask, runtime: Runtime) -> None:
    """Register the API, its CSRF exemption (the key is the credential) and its rate limit
    per API key (``OUTREACH_API_LIMIT``)."""
    app.register_blueprint(blueprint)
    app.extensions["csrf"].exempt(blueprint)
    limiter = app.extensions["outreach_limiter"]
    limiter.shared_limit(runtime.settings.api_limit, scope="api-v1", key_func=rate_key)(blueprint)


__all__ = [
    "blueprint",
    "event_log",
    "init_app",
    "lead_edits",
    "leads",
    "openapi",
    "review_items",
    "sequence_actions",
]
