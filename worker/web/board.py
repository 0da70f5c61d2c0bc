"""Placeholder: the board pages."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

blueprint = Blueprint("board", __name__, url_prefix="/board")


@blueprint.get("")
def index() -> ResponseReturnValue:
    return "board"
