"""Placeholder: the leads pages."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

blueprint = Blueprint("leads", __name__, url_prefix="/leads")


@blueprint.get("")
def index() -> ResponseReturnValue:
    return "leads"
