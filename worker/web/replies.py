"""Replying to a lead from its page or a review item: the form (``leads/_reply.html``) and
the POST that sends it once (``worker.working.replies``).

Every form carries a fresh random key; a second submission of the same form (a double
click, a reload of the POST, a retry) finds the key taken and sends nothing. A refused reply
(a paused mailbox, a suppressed address) keeps its text and key for the next try. Snippets
(``snippets/``) are rendered for the lead when the form is shown; a few lines of script
(``static/replies.js``) copy the one picked into the text, and without script the picked
snippet is sent when the text is left empty.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from worker.delivery.rendering import lead_fields
from worker.errors import OutreachError
from worker.leads.addresses import suppressed_values
from worker.leads.enrollment import BLOCKING_LEAD_STATUSES
from worker.leads.locales import lead_language
from worker.runtime import Runtime
from worker.store.models import Lead, ManualReply, ReviewItem
from worker.web.auth import current_rep
from worker.web.context import current_runtime
from worker.web.times import reader_zone
from worker.working.pause_ends import pause_end
from worker.working.replies import (
    MAX_BODY_CHARS,
    RETRYABLE,
    ReplyRequest,
    ReplyResult,
    ReplyStatus,
    Then,
    draft_reply,
    send_reply,
)
from worker.working.snippets import find_snippet, render_snippet, snippets_for

blueprint = Blueprint("replies", __name__, url_prefix="/leads")
_DRAFT = "reply_draft"
_KEPT_IN_COOKIE = 2_000  # bytes of a refused text kept in the session cookie (max ~4 kB)


@blueprint.app_context_processor
def _form_helper() -> dict[str, Any]:
    return {"reply_form": reply_form}


def reply_form(lead_id: int | None, item_id: int | None = None) -> dict[str, Any] | None:
    """What the reply form of a lead (or of an open review item) shows; None for none."""
    if lead_id is None:
        return None
    runtime = current_runtime()
    with runtime.sessions() as db:
        lead = db.get(Lead, lead_id)
        if lead is None:
            return None
        if item_id is not None:
            item = db.get(ReviewItem, item_id)
            if item is None or item.resolved_at is not None:
                return None
        fields = lead_fields(lead)
        email = lead.email
        blocked = lead.status in BLOCKING_LEAD_STATUSES or bool(suppressed_values(db, [email]))
    kept = session.get(_DRAFT) or {}
    if kept.get("lead") != lead_id:
        kept = {}
    elif "body" not in kept:
        kept["body"] = _refused_text(runtime, str(kept.get("key", "")))
    form: dict[str, Any] = {
        "lead_id": lead_id,
        "item_id": item_id,
        "to": email,
        "key": kept.get("key") or secrets.token_urlsafe(18),
        "body": kept.get("body", ""),
        "then": kept.get("then", Then.STOP.value),
        "until": kept.get("until", ""),
        "max_chars": MAX_BODY_CHARS,
        "snippets": _snippets(runtime, fields),
        "problem": None,
    }
    try:
        if blocked:
            raise OutreachError(f"{email} is on the suppression list — nothing can be sent to it.")
        draft = draft_reply(runtime, lead_id, "…", item_id)
    except OutreachError as exc:
        form["problem"] = str(exc)
    else:
        form.update(subject=draft.subject, mailbox=draft.mailbox, sender=draft.sender)
    return form


def _refused_text(runtime: Runtime, key: str) -> str:
    """The text of a refused reply (to write it again), '' when there is none."""
    with runtime.sessions() as db:
        row = db.scalar(select(ManualReply).where(ManualReply.key == key))
        return row.body if row is not None and row.status in RETRYABLE else ""


def _snippets(runtime: Runtime, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Each snippet in the lead's language, rendered for it (or why it cannot be)."""
    try:
        language = lead_language(fields)
    except ValueError:
        language = "en"
    shown = []
    for snippet in snippets_for(runtime.settings.home, language):
        try:
            text, error = render_snippet(runtime.renderer, snippet, fields, None), None
        except OutreachError as exc:
            text, error = "", str(exc)
        shown.append(
            {
                "name": snippet.name,
                "title": snippet.title,
                "language": snippet.language,
                "text": text,
                "error": error,
            }
        )
    return shown


@blueprint.post("/<int:lead_id>/reply")
def send(lead_id: int) -> ResponseReturnValue:
    form = request.form
    item_id = form.get("item_id", type=int)
    back = _back(form.get("back"), lead_id)
    runtime = current_runtime()
    rep = current_rep()
    body = form.get("body", "")
    then_text = form.get("then", Then.STOP.value)
    until_text = form.get("until", "").strip()
    key = form.get("key", "")
    if then_text not in {t.value for t in Then} or len(body) > MAX_BODY_CHARS:
        abort(400)
    kept = {"lead": lead_id, "key": key, "then": then_text, "until": until_text}
    if len(json.dumps(body)) <= _KEPT_IN_COOKIE:  # longer texts are kept with their reply row
        kept["body"] = body
    try:
        if not body.strip() and form.get("snippet"):
            body = _snippet_text(runtime, lead_id, form["snippet"])
        request_ = ReplyRequest(
            key=key,
            lead_id=lead_id,
            body=body,
            by=rep,
            then=Then(then_text),
            until=pause_end(until_text, reader_zone()) if then_text == Then.PAUSE else None,
            item_id=item_id,
        )
        result = send_reply(runtime, request_)
    except OutreachError as exc:
        session[_DRAFT] = kept
        flash(f"Reply not sent: {str(exc).removeprefix('Not sent: ')}", "error")
        return redirect(back)
    session.pop(_DRAFT, None)
    _tell(result)
    return redirect(back)


def _tell(result: ReplyResult) -> None:
    """Flash what became of the reply, in words."""
    if result.status == ReplyStatus.UNKNOWN:
        flash(
            f"Delivery unknown: the reply to {result.lead_email} was handed to the mail server "
            f"but no answer came ({result.error}). It is in the review queue — check the "
            "mailbox's Sent folder before writing again.",
            "error",
        )
        return
    if result.already:
        flash(
            f"This reply to {result.lead_email} was submitted before ({result.status}); "
            "nothing was sent again."
        )
        return
    after = "".join(f" {note[:1].upper()}{note[1:]}." for note in result.notes)
    flash(
        f"Reply sent to {result.lead_email} from mailbox {result.mailbox}: {result.subject}.{after}"
    )


def _snippet_text(runtime: Runtime, lead_id: int, name: str) -> str:
    with runtime.sessions() as db:
        lead = db.get(Lead, lead_id)
        if lead is None:
            abort(404)
        fields = lead_fields(lead)
    try:
        language = lead_language(fields)
    except ValueError:
        language = "en"
    snippet = find_snippet(runtime.settings.home, name, language)
    return render_snippet(runtime.renderer, snippet, fields, None)


def _back(target: str | None, lead_id: int) -> str:
    """Where to go after sending: a path of this site (a lead or queue page), else the lead."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("leads.show", lead_id=lead_id)


__all__ = ["blueprint", "reply_form"]
