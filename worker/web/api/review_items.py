"""``GET /api/v1/review-items`` (open ones by default; ``status=open|resolved|all``),
cursor-paginated by id, and ``GET /api/v1/review-items/{id}``."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from worker.errors import NotFoundError
from worker.store.models import ReviewItem
from worker.web.api.gate import blueprint, invalid
from worker.web.api.paging import after_id, next_cursor, page_limit, refuse_unknown_params
from worker.web.api.records import review_record
from worker.web.context import current_runtime

STATUSES = ("open", "resolved", "all")


@blueprint.get("/review-items")
def list_review_items() -> ResponseReturnValue:
    refuse_unknown_params(("status",))
    limit, after = page_limit(), after_id("review-items")
    status = request.args.get("status") or "open"
    if status not in STATUSES:
        raise invalid([("status", f"status {status!r} is unknown — use open, resolved or all")])
    query = select(ReviewItem).where(ReviewItem.id > after)
    if status == "open":
        query = query.where(ReviewItem.resolved_at.is_(None))
    elif status == "resolved":
        query = query.where(ReviewItem.resolved_at.is_not(None))
    with current_runtime().sessions() as session:
        rows = list(session.scalars(query.order_by(ReviewItem.id).limit(limit + 1)))
    page = rows[:limit]
    cursor = next_cursor("review-items", [r.id for r in page], limit, len(rows) > limit)
    return jsonify(data=[review_record(r) for r in page], next_cursor=cursor)


@blueprint.get("/review-items/<int:item>")
def get_review_item(item: int) -> ResponseReturnValue:
    refuse_unknown_params(())
    with current_runtime().sessions() as session:
        found = session.get(ReviewItem, item)
        if found is None:
            raise NotFoundError(f"No review item {item} — list them with GET /api/v1/review-items")
        return jsonify(review_record(found))


__all__ = ["get_review_item", "list_review_items"]
