"""``/api/v1/leads``: list (cursor-paginated, filtered), read one, create one.

Creating is not an upsert: an address that is already a lead answers 409 with the lead's id
(change it with ``PATCH``), a suppressed address 422 on ``email``. A new lead is not enrolled;
``POST /api/v1/leads/{id}/enroll`` does that.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.leads.addresses import suppressed_values
from worker.leads.capture import text_fields
from worker.leads.importing import validate_row
from worker.store import events
from worker.store.marks import mark
from worker.store.models import LEAD_COLUMNS, Lead, Rep
from worker.vocabulary import FINAL_STAGES, PIPELINE_STAGES, EventKind, LeadStatus, Stage
from worker.web.api.gate import ApiError, blueprint, invalid, json_object, key_name, refuse_unknown
from worker.web.api.paging import (
    after_id,
    next_cursor,
    page_limit,
    refuse_unknown_params,
    time_param,
)
from worker.web.api.records import find_lead, lead_records, one_lead
from worker.web.context import current_runtime

STAGES = (*PIPELINE_STAGES, *FINAL_STAGES)
STATUSES = tuple(LeadStatus)
# The lead's own fields a request may set; anything else goes into ``fields`` (an object).
LEAD_FIELDS = ("first_name", "last_name", "company", "timezone", "country", "deal_value")
CREATE_FIELDS = ("email", *LEAD_FIELDS, "stage", "owner", "fields")
MAX_CUSTOM_FIELDS = 50


@blueprint.get("/leads")
def list_leads() -> ResponseReturnValue:
    refuse_unknown_params(("stage", "status", "owner", "updated_since"))
    limit, after = page_limit(), after_id("leads")
    query = select(Lead).where(Lead.id > after)
    stage, status = request.args.get("stage"), request.args.get("status")
    if stage:
        if stage not in STAGES:
            raise invalid([("stage", f"stage {stage!r} is unknown — use {', '.join(STAGES)}")])
        query = query.where(Lead.stage == stage)
    if status:
        if status not in STATUSES:
            raise invalid([("status", f"status {status!r} is unknown — use {', '.join(STATUSES)}")])
        query = query.where(Lead.status == status)
    if "owner" in request.args:
        owner = request.args["owner"]
        query = query.where(Lead.owner.is_(None) if owner == "" else Lead.owner == owner)
    since = time_param("updated_since")
    if since is not None:
        query = query.where(Lead.updated_at >= since)
    with current_runtime().sessions() as session:
        leads = list(session.scalars(query.order_by(Lead.id).limit(limit + 1)))
        page = leads[:limit]
        data = lead_records(session, page)
    cursor = next_cursor("leads", [lead.id for lead in page], limit, len(leads) > limit)
    return jsonify(data=data, next_cursor=cursor)


@blueprint.get("/leads/<lead>")
def get_lead(lead: str) -> ResponseReturnValue:
    refuse_unknown_params(())
    with current_runtime().sessions() as session:
        return jsonify(one_lead(session, find_lead(session, lead)))


@blueprint.post("/leads")
def create_lead() -> ResponseReturnValue:
    body = json_object()
    refuse_unknown(body, CREATE_FIELDS)
    runtime = current_runtime()
    at, by = runtime.clock.now(), key_name()
    with runtime.sessions.begin() as session:
        row = _checked(body)
        owner = _owner(session, body.get("owner"))
        email = row["email"]
        existing = session.scalar(select(Lead.id).where(Lead.email == email))
        if existing is not None:
            raise ApiError(
                409,
                f"A lead with email {email!r} exists (id {existing}) — change it with "
                f"PATCH /api/v1/leads/{existing}",
            )
        if suppressed_values(session, [email]):
            raise invalid([("email", f"{email} is on the suppression list and is never mailed")])
        lead = Lead(
            email=email,
            stage=row.get("stage") or Stage.PROSPECTING,
            status=LeadStatus.ACTIVE,
            fields=row["fields"],
            owner=owner,
            created_at=at,
            updated_at=at,
            **{column: row.get(column) for column in LEAD_COLUMNS},
        )
        session.add(lead)
        session.flush()
        events.record(
            session, EventKind.LEAD_CREATED, at=at, lead_id=lead.id, cause="api", api_key=by
        )
        mark(session, [lead.id], at)  # its fields may score
        data = one_lead(session, lead)
    return jsonify(data), 201, {"Location": f"/api/v1/leads/{data['id']}"}


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The lead's row as an import parses it; 422 naming every bad field."""
    custom = body.get("fields", {})
    if custom is None:
        custom = {}
    if not isinstance(custom, dict):
        raise invalid([("fields", "fields must be an object of custom fields")])
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise invalid([("fields", f"at most {MAX_CUSTOM_FIELDS} custom fields")])
    clash = [key for key in custom if key in CREATE_FIELDS or key in ("id", "status")]
    top = {key: body[key] for key in ("email", *LEAD_FIELDS, "stage") if key in body}
    values, errors = text_fields(top)
    custom_values, custom_errors = text_fields(custom)
    problems = [(key, message) for key, message in errors.items()]
    problems += [(f"fields.{key}", message) for key, message in custom_errors.items()]
    problems += [(f"fields.{key}", f"{key} is a lead field — send it at the top") for key in clash]
    if "email" not in values:
        problems.append(("email", "email is required"))
    row, bad = validate_row({**custom_values, **values})
    for key, message in bad.items():
        name = key if key in top or key == "email" else f"fields.{key}"
        if not any(name == known for known, _ in problems):
            problems.append((name, message))
    if problems:
        raise invalid(problems)
    return row


def _owner(session: Session, owner: Any) -> str | None:
    """The rep named ``owner`` (None: nobody); 422 when there is no such rep."""
    if owner is None:
        return None
    name = owner.strip().lower() if isinstance(owner, str) else ""
    if not name or session.scalar(select(Rep.id).where(Rep.name == name)) is None:
        raise invalid([("owner", f"owner {owner!r} is no rep — see 'outreach reps list'")])
    return name


__all__ = ["create_lead", "get_lead", "list_leads"]
