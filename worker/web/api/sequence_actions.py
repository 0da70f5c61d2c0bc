"""``POST /api/v1/leads/{lead}/enroll|pause|resume|stop``: the same service the web app and the
command line use (``worker.working.lead_actions``), the API key named as who did it.

Each answers 200 ``{"lead", "changed", "message"}`` (``changed`` false when the lead was that
way already), 409 when the lead's state forbids the action (unsubscribed, decided, in no
sequence), 422 for a bad field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from worker.errors import NotFoundError
from worker.runtime import Runtime
from worker.store.models import Lead
from worker.web.api.gate import blueprint, invalid, json_object, key_name, refuse_unknown
from worker.web.api.records import find_lead, one_lead
from worker.web.context import current_runtime
from worker.working import lead_actions
from worker.working.outcomes import Outcome

Action = Callable[[Session, Runtime, Lead, dict[str, Any], datetime, str], Outcome]


def actor(name: str) -> str:
    """How an API key is named as the one who changed a lead (events' cause)."""
    return f"api key {name}"


def body_or_empty() -> dict[str, Any]:
    """The JSON object of the request; an empty body is an empty object."""
    return json_object() if request.get_data(cache=True) else {}


def apply(ref: str, action: Action, allowed: tuple[str, ...]) -> ResponseReturnValue:
    body = body_or_empty()
    refuse_unknown(body, allowed)
    runtime = current_runtime()
    at, by = runtime.clock.now(), actor(key_name())
    with runtime.sessions.begin() as session:
        lead = find_lead(session, ref)
        done = action(session, runtime, lead, body, at, by)
        session.flush()
        data = one_lead(session, lead)
    return jsonify(lead=data, changed=done.changed, message=done.message)


def text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid([(name, f"{name} must be a non-empty string")])
    return value


def time_field(body: dict[str, Any], name: str) -> datetime | None:
    value = text(body, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(
            [(name, f"{name} {value!r} is not a time — write ISO 8601, e.g. 2027-01-04T09:00:00Z")]
        ) from None
    if parsed.tzinfo is None:
        raise invalid([(name, f"{name} needs a time zone, e.g. 2027-01-04T09:00:00Z")])
    return parsed


def _enroll(
    session: Session, runtime: Runtime, lead: Lead, body: dict[str, Any], at: datetime, by: str
) -> Outcome:
    sequence = text(body, "sequence", required=True) or ""
    try:
        runtime.catalog.get(sequence.strip())
    except NotFoundError as exc:
        raise invalid([("sequence", str(exc))]) from None
    return lead_actions.enroll(session, runtime.catalog, lead, sequence, at=at, by=by)


def _pause(
    session: Session, runtime: Runtime, lead: Lead, body: dict[str, Any], at: datetime, by: str
) -> Outcome:
    return lead_actions.pause(session, lead, at=at, by=by, until=time_field(body, "until"))


def _resume(
    session: Session, runtime: Runtime, lead: Lead, body: dict[str, Any], at: datetime, by: str
) -> Outcome:
    return lead_actions.resume(session, lead, at=at, by=by)


def _stop(
    session: Session, runtime: Runtime, lead: Lead, body: dict[str, Any], at: datetime, by: str
) -> Outcome:
    return lead_actions.stop(session, lead, at=at, by=by, reason=text(body, "reason"))


@blueprint.post("/leads/<lead>/enroll")
def enroll_lead(lead: str) -> ResponseReturnValue:
    return apply(lead, _enroll, ("sequence",))


@blueprint.post("/leads/<lead>/pause")
def pause_lead(lead: str) -> ResponseReturnValue:
    return apply(lead, _pause, ("until",))


@blueprint.post("/leads/<lead>/resume")
def resume_lead(lead: str) -> ResponseReturnValue:
    return apply(lead, _resume, ())


@blueprint.post("/leads/<lead>/stop")
def stop_lead(lead: str) -> ResponseReturnValue:
    return apply(lead, _stop, ("reason",))


__all__ = ["actor", "apply", "enroll_lead", "pause_lead", "resume_lead", "stop_lead"]
