"""Placeholder: the reports pages."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

blueprint = Blueprint("reports", __name__, url_prefix="/reports")


@blueprint.get("")
def index() -> ResponseReturnValue:
    return "reports"
