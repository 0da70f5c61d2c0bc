"""The leads pages: a filterable, paginated list and each lead's whole timeline."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from worker.authoring.formatting import money_text
from worker.errors import NotFoundError
from worker.queries.board import BOARD_STAGES
from worker.queries.lead_pages import lead_page, leads_page
from worker.queries.whose import lead_counts, who_asked
from worker.store.models import LEAD_STATUSES
from worker.web import whose
from worker.web.auth import current_rep
from worker.web.context import current_runtime
from worker.web.next_email import next_email
from worker.web.times import local_time

blueprint = Blueprint("leads", __name__, url_prefix="/leads")
_MAX_SEARCH = 200


@blueprint.context_processor
def _helpers() -> dict[str, Any]:
    return {"money": money, "when": local_time}


def money(value: float | None, currency: str | None) -> str:
    """A deal value with its currency (the default when the lead's data names none)."""
    if value is None:
        return ""
    return money_text(value, currency or current_runtime().settings.default_currency)


@blueprint.get("")
def index() -> ResponseReturnValue:
    stage = request.args.get("stage", "").strip()
    status = request.args.get("status", "").strip()
    search = request.args.get("q", "").strip()[:_MAX_SEARCH]
    page = request.args.get("page", 1, type=int) or 1
    who, rep = who_asked(request.args.get("who")), current_rep()
    with current_runtime().sessions() as session:
        found = leads_page(
            session,
            stage=stage if stage in BOARD_STAGES else None,
            status=status if status in LEAD_STATUSES else None,
            search=search or None,
            page=page,
            owner=whose.lead_owner(who, rep),
        )
        counts = lead_counts(session, rep)
    filters = {"stage": stage, "status": status, "q": search}
    query: dict[str, Any] = {k: v for k, v in filters.items() if v}
    return render_template(
        "leads/index.html",
        found=found,
        filters=filters,
        query={**query, "who": who},  # links and forms keep whose leads they show
        whose=whose.switch(who, counts, lambda w: url_for(".index", **query, who=w)),
        stages=BOARD_STAGES,
        statuses=LEAD_STATUSES,
    )


@blueprint.get("/<int:lead_id>")
def show(lead_id: int) -> ResponseReturnValue:
    runtime = current_runtime()
    with runtime.sessions() as session:
        try:
            lead = lead_page(session, lead_id)
        except NotFoundError:
            abort(404)
    return render_template("leads/show.html", lead=lead, next_email=next_email(runtime, lead))
