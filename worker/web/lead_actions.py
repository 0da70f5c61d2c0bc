"""Working a lead in the web app: the forms on a lead's page (note, call, fields, stage,
pause, resume, stop, enroll, owner) and the bulk actions and CSV export of the leads list.

Each form posts here, calls the shared service (``worker.working``) in one transaction, and
redirects back to the page with a flash message (post/redirect/get). A bad value comes back
beside its field: the form's name, the field, the message and what was typed are kept in the
session for the next page. Bulk actions run over the list's filter in chunks, one transaction
each, so thousands of leads never hold one long transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from worker.errors import FieldError, OutreachError
from worker.queries.board import BOARD_STAGES
from worker.queries.lead_pages import LeadFilter
from worker.review.reps import rep_names
from worker.store.models import LEAD_COLUMNS, LEAD_STATUSES, Lead
from worker.tracking.activities import CALL_OUTCOMES
from worker.web import whose
from worker.web.auth import current_rep
from worker.web.context import current_runtime
from worker.web.times import reader_zone
from worker.working import lead_actions as work
from worker.working.bulk import BULK_ACTIONS, apply_to_leads, export_csv
from worker.working.outcomes import Outcome
from worker.working.pause_ends import pause_end

blueprint = Blueprint("lead_work", __name__, url_prefix="/leads")
MAX_TEXT = 5000
MAX_VALUE = 2000
MAX_SELECTED = 200  # checkboxes one page can send (the list shows 50 a page)
_PENDING = "lead_work_error"  # session key: a form's field error, shown on the next page
FORMS = ("note", "call", "fields", "stage", "pause", "stop", "enroll", "owner", "bulk")
Action = Callable[[Session, Lead, datetime, str], Outcome]


@blueprint.url_value_preprocessor
def _room_for_the_bulk_form(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The bulk form sends a checkbox per lead: more parts than the app's other forms may.
    Set before the CSRF check reads the form (URL preprocessors run before it)."""
    if endpoint == "lead_work.bulk":
        request.max_form_parts = MAX_SELECTED + 20
        request.max_content_length = 64 * 1024


@blueprint.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"lead_work": lead_work, "bulk_work": bulk_work}


def lead_work(lead: dict[str, Any]) -> dict[str, Any]:
    """What the lead page's forms need: the choices, and a field error to show (once)."""
    runtime = current_runtime()
    with runtime.sessions() as db:
        reps = rep_names(db)
    return {
        "sequences": runtime.catalog.in_pipeline_order(),
        "reps": reps,
        "stages": work.STAGES,
        "outcomes": CALL_OUTCOMES,
        "columns": LEAD_COLUMNS,
        "error": _pending_error(lead.get("id")),
        "today": runtime.clock.now().date().isoformat(),
    }


def bulk_work() -> dict[str, Any]:
    """What the leads list's bulk form needs."""
    runtime = current_runtime()
    with runtime.sessions() as db:
        reps = rep_names(db)
    return {
        "sequences": runtime.catalog.in_pipeline_order(),
        "reps": reps,
        "actions": BULK_ACTIONS,
        "error": _pending_error(None),
        "today": runtime.clock.now().date().isoformat(),
    }


def _pending_error(lead_id: int | None) -> dict[str, Any] | None:
    """The field error the last post left for this page (read once per request)."""
    if "lead_work_error" not in g:
        g.lead_work_error = session.pop(_PENDING, None)
    pending: dict[str, Any] | None = g.lead_work_error
    if pending is None or pending.get("lead_id") != lead_id:
        return None
    return pending


@blueprint.post("/<int:lead_id>/note")
def note(lead_id: int) -> ResponseReturnValue:
    text = _field("text", MAX_TEXT)
    return _act(lead_id, "note", lambda s, lead, at, by: work.add_note(s, lead, text, at=at, by=by))


@blueprint.post("/<int:lead_id>/call")
def call(lead_id: int) -> ResponseReturnValue:
    outcome, said = _field("outcome"), _field("note", MAX_TEXT) or None
    return _act(
        lead_id,
        "call",
        lambda s, lead, at, by: work.log_call(s, lead, outcome, note=said, at=at, by=by),
    )


@blueprint.post("/<int:lead_id>/fields")
def fields(lead_id: int) -> ResponseReturnValue:
    changes: dict[str, str | None] = {
        column: _field(column) or None for column in LEAD_COLUMNS if column in request.form
    }
    extra_name, extra_value = _field("extra_name", 64), _field("extra_value")
    if extra_name:
        changes[extra_name] = extra_value or None
    return _act(
        lead_id,
        "fields",
        lambda s, lead, at, by: work.update_fields(s, lead, changes, at=at, by=by),
    )


@blueprint.post("/<int:lead_id>/stage")
def stage(lead_id: int) -> ResponseReturnValue:
    chosen, reason = _field("stage", 32), _field("reason", 500) or None
    catalog = current_runtime().catalog
    return _act(
        lead_id,
        "stage",
        lambda s, lead, at, by: work.change_stage(
            s, catalog, lead, chosen, reason=reason, at=at, by=by
        ),
    )


@blueprint.post("/<int:lead_id>/pause")
def pause(lead_id: int) -> ResponseReturnValue:
    until_text = _field("until", 32)

    def paused(s: Session, lead: Lead, at: datetime, by: str) -> Outcome:
        return work.pause(s, lead, at=at, by=by, until=pause_end(until_text, reader_zone()))

    return _act(lead_id, "pause", paused)


@blueprint.post("/<int:lead_id>/resume")
def resume(lead_id: int) -> ResponseReturnValue:
    return _act(lead_id, "pause", lambda s, lead, at, by: work.resume(s, lead, at=at, by=by))


@blueprint.post("/<int:lead_id>/stop")
def stop(lead_id: int) -> ResponseReturnValue:
    reason = _field("reason", 500) or None
    return _act(
        lead_id, "stop", lambda s, lead, at, by: work.stop(s, lead, at=at, by=by, reason=reason)
    )


@blueprint.post("/<int:lead_id>/enroll")
def enroll(lead_id: int) -> ResponseReturnValue:
    sequence = _field("sequence", 100)
    catalog = current_runtime().catalog
    return _act(
        lead_id,
        "enroll",
        lambda s, lead, at, by: work.enroll(s, catalog, lead, sequence, at=at, by=by),
    )


@blueprint.post("/<int:lead_id>/owner")
def owner(lead_id: int) -> ResponseReturnValue:
    name = _field("owner", 100) or None
    return _act(
        lead_id, "owner", lambda s, lead, at, by: work.set_owner(s, lead, name, at=at, by=by)
    )


def _act(lead_id: int, form: str, action: Action) -> ResponseReturnValue:
    """Apply ``action`` to the lead in one transaction; flash the outcome, or keep a field
    error for the form; back to the lead's page either way."""
    runtime = current_runtime()
    page = url_for("leads.show", lead_id=lead_id)
    try:
        with runtime.sessions.begin() as db:
            lead = db.get(Lead, lead_id)
            if lead is None:
                abort(404)
            result = action(db, lead, runtime.clock.now(), current_rep())
    except FieldError as exc:
        session[_PENDING] = {
            "lead_id": lead_id,
            "form": form,
            "field": exc.field,
            "message": str(exc),
            "values": {
                key: value[:MAX_VALUE] for key, value in request.form.items() if key != "csrf_token"
            },
        }
        return redirect(f"{page}#work-{form}")
    except OutreachError as exc:
        flash(str(exc), "error")
        return redirect(f"{page}#work-{form}")
    flash(result.message)
    return redirect(page)


@blueprint.post("/bulk")
def bulk() -> ResponseReturnValue:
    """A bulk action on the chosen leads of the list, or on all leads matching its filter."""
    action = _field("action", 20)
    lead_filter = _filter(request.form)
    chosen = request.form.getlist("lead")
    back = url_for("leads.index", **_query(lead_filter))
    ids: list[int] | None = None
    if request.form.get("scope") != "all":
        ids = [int(value) for value in chosen[:MAX_SELECTED] if value.isdigit()]
        if not ids:
            flash("Tick the leads to act on, or choose all leads matching the filter.", "error")
            return redirect(back)
    runtime = current_runtime()
    try:
        done = apply_to_leads(
            runtime.sessions,
            runtime.catalog,
            lead_filter,
            action,
            at=runtime.clock.now(),
            by=current_rep(),
            owner=_field("owner", 100) or None,
            sequence=_field("sequence", 100) or None,
            until=pause_end(_field("until", 32), reader_zone()) if action == "pause" else None,
            ids=ids,
        )
    except FieldError as exc:
        session[_PENDING] = {
            "lead_id": None,
            "form": "bulk",
            "field": exc.field,
            "message": str(exc),
            "values": {
                key: value[:MAX_VALUE]
                for key, value in request.form.items()
                if key not in ("csrf_token", "lead")
            },
        }
        return redirect(back + "#bulk")
    except OutreachError as exc:
        flash(str(exc), "error")
        return redirect(back + "#bulk")
    flash(done.summary() + ".")
    return redirect(back)


@blueprint.get("/export.csv")
def export() -> ResponseReturnValue:
    """The leads matching the list's filter as CSV, in the import's columns, streamed."""
    lead_filter = _filter(request.args)
    runtime = current_runtime()
    stamp = runtime.clock.now().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(export_csv(runtime.sessions, lead_filter)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="leads-{stamp}.csv"'},
    )


def _filter(values: Any) -> LeadFilter:
    """The leads list's filter from its query (or the bulk form's copy of it)."""
    stage = str(values.get("stage", "")).strip()
    status = str(values.get("status", "")).strip()
    search = str(values.get("q", "")).strip()[:200]
    return LeadFilter(
        stage if stage in BOARD_STAGES else None,
        status if status in LEAD_STATUSES else None,
        search or None,
        whose.lead_owner(values.get("who"), current_rep()),  # Mine / Unassigned / Everyone
    )


def _query(lead_filter: LeadFilter) -> dict[str, Any]:
    values = {"stage": lead_filter.stage, "status": lead_filter.status, "q": lead_filter.search}
    values["who"] = whose.who_of_owner(lead_filter.owner, current_rep())
    return {key: value for key, value in values.items() if value}


def _field(name: str, limit: int = MAX_VALUE) -> str:
    """A form value, stripped; 400 when it is longer than any real one."""
    value = request.form.get(name, "").strip()
    if len(value) > limit:
        abort(400)
    return value


__all__ = ["FORMS", "blueprint", "bulk_work", "lead_work"]
