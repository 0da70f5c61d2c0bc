"""Placeholder: the queue pages."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

blueprint = Blueprint("queue", __name__, url_prefix="/queue")


@blueprint.get("")
def index() -> ResponseReturnValue:
    return "queue"
