"""``GET /api/v1/events``: the event log, oldest first, cursor-paginated by event id and
filtered by ``lead`` (id or email), ``kind`` and ``since`` (events at or after a time)."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from worker.errors import NotFoundError
from worker.store.models import Event
from worker.vocabulary import EventKind
from worker.web.api.gate import blueprint, invalid
from worker.web.api.paging import (
    after_id,
    next_cursor,
    page_limit,
    refuse_unknown_params,
    time_param,
)
from worker.web.api.records import event_record, find_lead
from worker.web.context import current_runtime

KINDS = tuple(EventKind)


@blueprint.get("/events")
def list_events() -> ResponseReturnValue:
    refuse_unknown_params(("lead", "kind", "since"))
    limit, after = page_limit(), after_id("events")
    query = select(Event).where(Event.id > after)
    kind = request.args.get("kind")
    if kind:
        if kind not in KINDS:
            raise invalid([("kind", f"kind {kind!r} is unknown — use one of {', '.join(KINDS)}")])
        query = query.where(Event.kind == kind)
    since = time_param("since")
    if since is not None:
        query = query.where(Event.at >= since)
    with current_runtime().sessions() as session:
        ref = request.args.get("lead")
        if ref:
            try:
                query = query.where(Event.lead_id == find_lead(session, ref).id)
            except NotFoundError as exc:
                raise invalid([("lead", str(exc))]) from None
        rows = list(session.scalars(query.order_by(Event.id).limit(limit + 1)))
    page = rows[:limit]
    cursor = next_cursor("events", [e.id for e in page], limit, len(rows) > limit)
    return jsonify(data=[event_record(e) for e in page], next_cursor=cursor)


__all__ = ["list_events"]
