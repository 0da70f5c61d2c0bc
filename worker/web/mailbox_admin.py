"""The mailboxes page (admins only): each sending mailbox as ``outreach mailboxes`` shows it
(``worker.queries.mailboxes``), with Pause (with a reason) and Resume — the same service as
``outreach mailboxes pause|resume`` (``worker.mailboxes.pauses``), the event naming the admin.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from worker.errors import NotFoundError, OutreachError
from worker.mailboxes.pauses import pause_mailbox, pause_states, resume_mailbox
from worker.queries.mailboxes import mailbox_rows, owner_rule
from worker.runtime import Runtime
from worker.web.auth import admin_required, current_rep
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("mailbox_admin", __name__, url_prefix="/mailboxes")
DEFAULT_REASON = "paused by hand"  # as ``outreach mailboxes pause`` without --reason
_MAX_REASON = 300


@blueprint.before_request
@admin_required
def _admins_only() -> None:
    """Every page and form here is for admins."""


@blueprint.get("")
def index() -> ResponseReturnValue:
    runtime = current_runtime()
    try:
        rows = [{**row, "owner_rule": owner_rule(row)} for row in mailbox_rows(runtime)]
    except OutreachError as exc:  # mailboxes.yaml missing or not valid
        return render_template("mailboxes/index.html", rows=[], problem=str(exc))
    return render_template("mailboxes/index.html", rows=rows, problem=None)


@blueprint.post("/<name>/pause")
def pause(name: str) -> ResponseReturnValue:
    runtime = _runtime_with(name)
    reason = " ".join(request.form.get("reason", "").split())[:_MAX_REASON] or DEFAULT_REASON
    by = current_rep()
    with runtime.sessions.begin() as session:
        paused = pause_mailbox(session, name, reason, at=runtime.clock.now(), by=by)
        if not paused:
            reason = pause_states(session)[name].reason
    if not paused:
        flash(f"Mailbox {name} was already paused: {reason}", "error")
    else:
        log.info("mailbox %r paused by %r: %s", name, by, reason)
        flash(f"Paused mailbox {name}: {reason}. Its emails wait in the queue until you resume it.")
    return redirect(url_for(".index"))


@blueprint.post("/<name>/resume")
def resume(name: str) -> ResponseReturnValue:
    runtime = _runtime_with(name)
    by = current_rep()
    with runtime.sessions.begin() as session:
        freed = resume_mailbox(session, name, at=runtime.clock.now(), by=by)
    if freed < 0:
        flash(f"Mailbox {name} is not paused.", "error")
    else:
        log.info("mailbox %r resumed by %r", name, by)
        flash(f"Resumed mailbox {name}; {freed} postponed email(s) go out with the next run.")
    return redirect(url_for(".index"))


def _runtime_with(name: str) -> Runtime:
    """The runtime, once ``name`` is a configured mailbox (404 otherwise)."""
    runtime = current_runtime()
    try:
        runtime.mailboxes.get(name)
    except NotFoundError:
        abort(404)
    except OutreachError as exc:  # the file cannot be read: say so on the page
        flash(str(exc), "error")
        abort(redirect(url_for(".index")))
    return runtime


__all__ = ["blueprint"]
