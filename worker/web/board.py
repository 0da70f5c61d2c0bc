"""The pipeline board: one column per stage with its lead count, value and top leads."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from worker.queries.board import board, format_value
from worker.web.context import current_runtime

blueprint = Blueprint("board", __name__, url_prefix="/board")


@blueprint.get("")
def index() -> ResponseReturnValue:
    with current_runtime().sessions() as session:
        columns = board(session)
    return render_template("board/index.html", board=columns, money=format_value)
