"""``PATCH /api/v1/leads/{id}``: change a lead's fields, custom fields, owner and stage in one
transaction, through the service the web app and the command line use (``worker.working``).

Body: any of ``first_name``, ``last_name``, ``company``, ``timezone``, ``country``,
``deal_value`` (null clears one), ``fields`` (an object merged into the custom fields; null
removes one), ``owner`` (a rep's name, null for nobody), ``stage`` with ``reason`` (required
for ``won`` and ``lost``). Nothing is changed when one field is bad (422 naming it).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from worker.errors import FieldError, NotFoundError
from worker.web.api.gate import blueprint, invalid, json_object, key_name, refuse_unknown
from worker.web.api.leads import LEAD_FIELDS
from worker.web.api.records import find_lead, one_lead
from worker.web.api.sequence_actions import actor
from worker.web.context import current_runtime
from worker.working.lead_actions import change_stage
from worker.working.lead_records import set_owner, update_fields

PATCH_FIELDS = (*LEAD_FIELDS, "fields", "owner", "stage", "reason")
RESERVED = frozenset({"email", "stage", "status", "owner", "id", "fields", *LEAD_FIELDS})


@blueprint.patch("/leads/<lead>")
def update_lead(lead: str) -> ResponseReturnValue:
    body = json_object()
    refuse_unknown(body, PATCH_FIELDS)
    if not body:
        raise invalid([("body", f"nothing to change — send any of {', '.join(PATCH_FIELDS)}")])
    if "reason" in body and "stage" not in body:
        raise invalid([("reason", "reason goes with stage — send the stage too")])
    changes, custom = _changes(body)
    runtime = current_runtime()
    at, by = runtime.clock.now(), actor(key_name())
    with runtime.sessions.begin() as session:
        found = find_lead(session, lead)
        if changes:
            try:
                update_fields(session, found, changes, at=at, by=by)
            except FieldError as exc:
                name = f"fields.{exc.field}" if exc.field in custom else exc.field
                raise invalid([(name, str(exc))]) from None
        if "owner" in body:
            owner = body["owner"]
            if owner is not None and not isinstance(owner, str):
                raise invalid([("owner", "owner must be a rep's name or null")])
            try:
                set_owner(session, found, owner, at=at, by=by)
            except NotFoundError as exc:
                raise invalid([("owner", str(exc))]) from None
        if "stage" in body:
            stage, reason = body["stage"], body.get("reason")
            if not isinstance(stage, str) or (reason is not None and not isinstance(reason, str)):
                raise invalid([("stage", "stage and reason must be strings")])
            change_stage(session, runtime.catalog, found, stage, reason=reason, at=at, by=by)
        session.flush()
        data = one_lead(session, found)
    return jsonify(data)


def _changes(body: dict[str, Any]) -> tuple[dict[str, str | None], set[str]]:
    """The field changes ``update_fields`` takes (text or None), and the custom keys."""
    custom = body.get("fields") or {}
    if not isinstance(custom, dict):
        raise invalid([("fields", "fields must be an object of custom fields")])
    problems = [
        (f"fields.{key}", f"{key} is not a custom field — send it at the top of the body")
        for key in custom
        if key in RESERVED
    ]
    changes: dict[str, str | None] = {}
    for prefix, values in (
        ("", {k: body[k] for k in LEAD_FIELDS if k in body}),
        ("fields.", custom),
    ):
        for key, value in values.items():
            if value is None:
                changes[key] = None
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                problems.append((prefix + key, f"{key} must be text, a number or null"))
            else:
                changes[key] = str(value)
    if problems:
        raise invalid(problems)
    return changes, set(custom)


__all__ = ["update_lead"]
