"""The pipeline board: one column per stage with its lead count, value per currency and top
leads (money in English, ``€970,502.25``)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from worker.analytics.rollup import refresh, stage_totals_now
from worker.queries.board import ORDERS, board, format_amounts, format_money
from worker.web.context import current_runtime

blueprint = Blueprint("board", __name__, url_prefix="/board")


@blueprint.get("")
def index() -> ResponseReturnValue:
    runtime = current_runtime()
    # Counts and values from the report's counters (reading every lead costs 0.2-0.3 s at a
    # million of them), with the leads changed since they were last brought up to date.
    refresh(runtime.sessions)
    default = runtime.settings.default_currency
    order = request.args.get("order", "value")
    with runtime.sessions() as session:
        columns = board(
            session,
            totals=stage_totals_now(session, default),
            default_currency=default,
            order=order if order in ORDERS else "value",
        )
    return render_template(
        "board/index.html", board=columns, money=format_money, amounts=format_amounts
    )
