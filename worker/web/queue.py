"""The review queue: flagged leads and tasks for reps, hot first, with one-click resolving.

``GET /queue`` lists the open items (filters: reason, stage, mailbox, rep — a name, ``me``
or ``unassigned``; ``?sort=score``: the highest-scored leads first); ``GET /queue/<id>``
shows one with the lead's recent timeline.
``POST /queue/<id>/resolve`` applies an action as ``outreach review resolve`` does and
``POST /queue/<id>/assign`` gives the item to a rep (or to nobody); ``POST /queue/resolve-all``
resolves every open item matching the filters (a reason is required) with one action, or each
with its own suggestion. An "Accept as SQL?" item shows the lead's score and why, and is
answered by ``POST /queue/<id>/accept`` (interested, buying now and when, decision-maker or
who is) or ``POST /queue/<id>/reject`` (a reason from the list, a note for ``other``), as
``outreach review accept`` / ``reject`` do; the rep who accepts becomes the lead's owner.
All record the rep who did it, flash the outcome and return to the queue page they came from.

After a resolution the page says "Resolved as …" with an Undo button while the undo window
lasts (``undo_window_s``); ``POST /queue/<id>/undo`` reopens the item and puts the lead back
as it was (``worker.review.undo``), as ``outreach review undo`` does. A message from an
unknown sender can be attached to a lead (``lead``: its address), make its sender a lead,
have its sender suppressed, or be dismissed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as browser_session
from flask.typing import ResponseReturnValue

from worker.clock import as_utc
from worker.errors import NotFoundError, OutreachError
from worker.qualification import INTERESTED, REJECT_REASONS
from worker.queries.labels import action_label
from worker.queries.review_queue import (
    SCORE,
    UNASSIGNED,
    QueueFilter,
    filter_choices,
    list_open,
    queue_item,
    queue_rows,
)
from worker.queries.whose import queue_counts
from worker.review.assignment import assign
from worker.review.bulk import SUGGESTED, resolve_many
from worker.review.reps import rep_names
from worker.review.resolutions import RECLASSIFY, resolve_now
from worker.review.senders import SENDER_ACTIONS
from worker.review.undo import undo_now, undo_until
from worker.runtime import Runtime
from worker.store.models import ReviewItem
from worker.understanding import INTENTS
from worker.vocabulary import ReviewAction, ReviewReason, TouchStatus
from worker.web import whose
from worker.web.auth import current_rep
from worker.web.context import current_runtime

blueprint = Blueprint("queue", __name__, url_prefix="/queue")

ME = "me"
MAX_ROWS = 200
MAX_ACTION = 100
MAX_NOTE = 2000
MAX_FILTER = 100
MAX_EMAIL = 320
# The session key of the last resolution the rep may still undo: {"item", "text"}.
JUST_RESOLVED = "queue.just_resolved"
TIMELINE_EVENTS = 30
_ENDING = (
    ReviewAction.ADVANCE,
    ReviewAction.STOP,
    ReviewAction.LOST,
    ReviewAction.WON,
    ReviewAction.UNSUBSCRIBE,
)


@blueprint.get("")
def index() -> ResponseReturnValue:
    runtime = current_runtime()
    rep = current_rep()
    asked = {key: request.args.get(key, "").strip()[:MAX_FILTER] for key in _FILTER_KEYS}
    asked["rep"], who = whose.queue_choice(asked["rep"], request.args.get("who"))
    filters = _filters(asked, rep)
    sort = SCORE if request.args.get("sort") == SCORE else None
    with runtime.sessions() as session:
        rows = queue_rows(session, filters, limit=MAX_ROWS + 1, sort=sort)
        choices = filter_choices(session, _mailbox_names(runtime))
        reps = rep_names(session)
        counts = queue_counts(session, rep)
    others: dict[str, Any] = {key: value for key, value in asked.items() if value and key != "rep"}
    for key, values in (("reason", "reasons"), ("stage", "stages"), ("mailbox", "mailboxes")):
        if asked[key] and asked[key] not in choices[values]:
            choices[values].append(asked[key])  # keep the chosen value selectable
    now = runtime.clock.now()
    sequences = sorted(runtime.catalog.sequences)
    for row in rows:
        _decorate(row, now, sequences)
    return render_template(
        "queue/index.html",
        just_resolved=_just_resolved(runtime),
        rows=rows[:MAX_ROWS],
        more=len(rows) > MAX_ROWS,
        asked=asked,
        filtered=whose.narrowed(asked),
        whose=whose.switch(who, counts, lambda w: url_for(".index", who=w, sort=sort, **others)),
        choices=choices,
        reps=reps,
        me=ME,
        unassigned=UNASSIGNED,
        back=request.full_path.rstrip("?"),
        lead_url=_lead_url,
        bulk_actions=_bulk_actions(asked["reason"]),
        sort=sort,
        by_score_url=_queue_url(asked, SCORE),
        by_priority_url=_queue_url(asked, None),
        interested=INTERESTED,
        reject_reasons=REJECT_REASONS,
    )


@blueprint.get("/<int:item_id>")
def show(item_id: int) -> ResponseReturnValue:
    runtime = current_runtime()
    with runtime.sessions() as session:
        try:
            row = queue_item(session, item_id)
        except NotFoundError:
            abort(404)
        reps = rep_names(session)
        undo_by = undo_until(session, item_id, runtime.clock.now())
    _decorate(row, runtime.clock.now(), sorted(runtime.catalog.sequences))
    record = row.get("lead_record") or {}
    timeline = list(reversed(record.get("timeline", [])))[:TIMELINE_EVENTS]
    back = _back(request.args.get("back")) if request.args.get("back") else url_for(".index")
    return render_template(
        "queue/item.html",
        just_resolved=_just_resolved(runtime),
        undo_by=undo_by,
        row=row,
        timeline=timeline,
        reps=reps,
        back=back,
        here=request.full_path.rstrip("?"),
        lead_url=_lead_url,
        interested=INTERESTED,
        reject_reasons=REJECT_REASONS,
    )


@blueprint.post("/<int:item_id>/resolve")
def resolve_item(item_id: int) -> ResponseReturnValue:
    form = request.form
    # The suggested action's one-click button and the menu of actions (with a note) are
    # separate forms, so a click does what its label says.
    action = form.get("action", "").strip()
    note = form.get("note", "").strip()
    lead_email = form.get("lead", "").strip() or None
    if not action or len(action) > MAX_ACTION or len(note) > MAX_NOTE:
        abort(400)
    if lead_email is not None and len(lead_email) > MAX_EMAIL:
        abort(400)
    back = _back(form.get("back"))
    runtime = current_runtime()
    rep = current_rep()
    signed = f"{note} — by {rep}" if note else f"by {rep}"
    with runtime.sessions() as session:
        if session.get(ReviewItem, item_id) is None:
            abort(404)
    try:
        result = resolve_now(runtime, item_id, action, note=signed, by=rep, lead_email=lead_email)
    except OutreachError as exc:
        flash(f"#{item_id} not resolved: {exc}", "error")
        return redirect(back)
    who = f" for {result.lead_email}" if result.lead_email else ""
    text = f"Resolved #{result.item_id} as {action_label(result.action)}{who}."
    _resolved(runtime, result.item_id, text)
    return redirect(back)


def _resolved(runtime: Runtime, item_id: int, text: str) -> None:
    """Say what was resolved: with an Undo button on the next page while the window lasts."""
    if runtime.settings.undo_window_s > 0:
        browser_session[JUST_RESOLVED] = {"item": item_id, "text": text}
    else:
        flash(text)


@blueprint.post("/<int:item_id>/undo")
def undo_item(item_id: int) -> ResponseReturnValue:
    back = _back(request.form.get("back"))
    runtime = current_runtime()
    browser_session.pop(JUST_RESOLVED, None)
    try:
        undone = undo_now(runtime, item_id, by=current_rep())
    except NotFoundError:
        abort(404)
    except OutreachError as exc:
        flash(f"#{item_id} not undone: {exc}", "error")
        return redirect(back)
    who = f" for {undone.lead_email}" if undone.lead_email else ""
    flash(f"Undone: #{item_id} ({action_label(undone.action)}{who}) is open again.")
    return redirect(back)


def _just_resolved(runtime: Runtime) -> dict[str, Any] | None:
    """The rep's last resolution, shown once with its Undo button (while the window lasts)."""
    shown = browser_session.pop(JUST_RESOLVED, None)
    if not isinstance(shown, dict) or not isinstance(shown.get("item"), int):
        return None
    with runtime.sessions() as db:
        until = undo_until(db, shown["item"], runtime.clock.now())
    return {**shown, "until": until}


@blueprint.post("/<int:item_id>/accept")
def accept_item(item_id: int) -> ResponseReturnValue:
    form = request.form
    keys = ("interested", "buying_now", "timeframe", "decision_maker", "who")
    answers = {key: form.get(key, "").strip() or None for key in keys}
    note = form.get("note", "").strip()
    return _answer(item_id, ReviewAction.ACCEPT_SQL, answers, note)


@blueprint.post("/<int:item_id>/reject")
def reject_item(item_id: int) -> ResponseReturnValue:
    form = request.form
    note = form.get("note", "").strip()
    return _answer(item_id, ReviewAction.REJECT_SQL, {"reason": form.get("reason", "")}, note)


def _answer(
    item_id: int, action: str, answers: dict[str, str | None], note: str
) -> ResponseReturnValue:
    """Resolve an acceptance item with the rep's answers (checked by the resolution)."""
    if len(note) > MAX_NOTE or any(len(v or "") > MAX_NOTE for v in answers.values()):
        abort(400)
    back = _back(request.form.get("back"))
    runtime = current_runtime()
    rep = current_rep()
    with runtime.sessions() as session:
        if session.get(ReviewItem, item_id) is None:
            abort(404)
    try:
        result = resolve_now(runtime, item_id, action, note=note or None, by=rep, answers=answers)
    except OutreachError as exc:
        flash(f"#{item_id} not resolved: {exc}", "error")
        return redirect(back)
    verdict = "accepted as SQL" if action == ReviewAction.ACCEPT_SQL else "back to nurture"
    _resolved(runtime, result.item_id, f"#{result.item_id}: {result.lead_email} {verdict}.")
    return redirect(back)


@blueprint.post("/resolve-all")
def resolve_all_items() -> ResponseReturnValue:
    form = request.form
    action = form.get("action", "").strip()
    asked = {key: form.get(key, "").strip()[:MAX_FILTER] for key in _FILTER_KEYS}
    back = _back(form.get("back"))
    if action not in _bulk_actions(asked["reason"]) or not asked["reason"]:
        abort(400)
    if form.get("confirm") != "yes":
        flash("Tick the box to confirm resolving every item shown.", "error")
        return redirect(back)
    rep = current_rep()
    filters = _filters(asked, rep)
    runtime = current_runtime()
    with runtime.sessions() as session:
        rows = list_open(session, filters=filters)
    done = resolve_many(runtime, rows, action, note=f"in bulk by {rep}", by=rep)
    chosen = "each its suggested action" if action == SUGGESTED else action_label(action)
    flash(f"Resolved {len(done.resolved)} item(s): {chosen}.")
    if done.left:
        shown = ", ".join(f"#{item_id}: {why}" for item_id, why in list(done.left.items())[:5])
        flash(f"{len(done.left)} left open — {shown}", "error")
    return redirect(back)


def _queue_url(asked: dict[str, str], sort: str | None) -> str:
    """The queue page with the same filters, in ``sort`` order (None: hot first)."""
    values: dict[str, Any] = {key: value for key, value in asked.items() if value}
    if sort:
        values["sort"] = sort
    return url_for(".index", **values)


def _mailbox_names(runtime: Runtime) -> list[str]:
    """The configured sending mailboxes (none when the mailbox file cannot be read)."""
    try:
        return sorted(runtime.mailboxes.by_name)
    except OutreachError:
        return []


def _bulk_actions(reason: str) -> list[str]:
    """What the bulk form offers for items of ``reason``."""
    if reason == ReviewReason.DELIVERY_UNKNOWN:
        return [SUGGESTED, ReviewAction.SENT, ReviewAction.NOT_SENT]
    return [SUGGESTED] if reason else []


@blueprint.post("/<int:item_id>/assign")
def assign_item(item_id: int) -> ResponseReturnValue:
    name = request.form.get("rep", "").strip()
    if len(name) > MAX_FILTER:
        abort(400)
    back = _back(request.form.get("back"))
    runtime = current_runtime()
    try:
        with runtime.sessions.begin() as session:
            if session.get(ReviewItem, item_id) is None:
                abort(404)
            done = assign(session, item_id, name, at=runtime.clock.now(), by=current_rep())
    except OutreachError as exc:
        flash(f"#{item_id} not assigned: {exc}", "error")
        return redirect(back)
    if done.assignee is None:
        flash(f"#{item_id} is unassigned.")
    else:
        flash(f"Assigned #{item_id} to {done.assignee}.")
    return redirect(back)


_FILTER_KEYS = ("reason", "stage", "mailbox", "rep")


def _filters(asked: dict[str, str], rep: str) -> QueueFilter:
    """The queue filter of a page's or form's fields (``me``: the signed-in rep)."""
    assignee = rep if asked["rep"] == ME else asked["rep"]
    return QueueFilter.asked(asked["reason"], asked["stage"], asked["mailbox"], assignee)


def _decorate(row: dict[str, Any], now: datetime, sequences: list[str]) -> None:
    """Add what the page shows but the read model does not know: age and the actions."""
    created = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    row["age"] = _age(now - as_utc(created))
    row["actions"] = _actions(row, sequences)


def _actions(row: dict[str, Any], sequences: list[str]) -> list[str]:
    """The actions that can apply to the item (those of ``outreach review resolve``)."""
    if row["lead_id"] is None:
        if row["reason"] == ReviewReason.INBOUND_UNMATCHED and row["inbound_id"] is not None:
            # attach needs the lead's address: the item's own form asks for it.
            return [a for a in SENDER_ACTIONS if a != ReviewAction.ATTACH]
        return [ReviewAction.STOP]
    enroll = [f"enroll:{name}" for name in sequences]
    if row["task"]:
        return [ReviewAction.DONE, ReviewAction.SKIP, *_ENDING, *enroll]
    # accept-sql / reject-sql need the rep's answers: the acceptance form has them.
    actions: list[str] = [ReviewAction.RESUME, *_ENDING]
    if row["touch_status"] == TouchStatus.UNKNOWN:
        actions += [ReviewAction.SENT, ReviewAction.NOT_SENT]
    actions += enroll
    if (row.get("message") or {}).get("referral_email"):
        actions.append(ReviewAction.ADD_REFERRAL)
    if row["inbound_id"] is not None:
        actions += [f"{RECLASSIFY}{intent}" for intent in INTENTS]
    return actions


def _age(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def _back(target: str | None) -> str:
    """A queue page to return to; anything not a local /queue path gives the queue."""
    if target and not any(c in target for c in "\\\r\n\t") and not target.startswith("//"):
        parts = urlsplit(target)
        path = parts.path
        if (
            not parts.scheme
            and not parts.netloc
            and (path == "/queue" or path.startswith("/queue/"))
        ):
            return target
    return url_for(".index")


def _lead_url(lead_id: int) -> str:
    """The lead's timeline page."""
    return url_for("leads.show", lead_id=lead_id)
