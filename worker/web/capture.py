"""Placeholder: lead capture (website form and JSON API)."""

from __future__ import annotations

from flask import Blueprint, Flask

from ..runtime import Runtime

blueprint = Blueprint("capture", __name__)
api_blueprint = Blueprint("capture_api", __name__)


def init_app(app: Flask, runtime: Runtime) -> None:
    """Register the capture blueprints, their CSRF exemption and rate limits."""
    app.register_blueprint(blueprint)
    app.register_blueprint(api_blueprint)
    app.extensions["csrf"].exempt(api_blueprint)
