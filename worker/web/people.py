"""The reps page (admins only): list, add, change name, email, zone and role, reset a
password, remove.

The same services as ``outreach reps`` (``worker.review.reps``); a field that is not usable
shows its message beside the form, nothing is changed.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from worker.errors import FieldError, NotFoundError, OutreachError
from worker.review.reps import (
    ROLES,
    add_rep,
    get_rep,
    list_reps,
    profile,
    remove_rep,
    set_password,
    update_rep,
)
from worker.web.auth import admin_required, current_rep
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("people", __name__, url_prefix="/reps")
_FIELDS = ("name", "full_name", "email", "timezone", "role")
_MAX_FIELD = 320
_MAX_PASSWORD = 1000
_ZONES = sorted(available_timezones())


@blueprint.before_request
@admin_required
def _admins_only() -> None:
    """Every page and form here is for admins."""


@blueprint.context_processor
def _choices() -> dict[str, Any]:
    return {"roles": ROLES, "zones": _ZONES}


@blueprint.get("")
def index() -> ResponseReturnValue:
    return _index_page({}, None)


@blueprint.post("")
def add() -> ResponseReturnValue:
    form = _form()
    password = request.form.get("password", "")[:_MAX_PASSWORD]
    runtime = current_runtime()
    try:
        with runtime.sessions.begin() as db:
            rep = add_rep(
                db,
                form["name"],
                password,
                at=runtime.clock.now(),
                full_name=form["full_name"],
                email=form["email"],
                timezone=form["timezone"] or "UTC",
                role=form["role"] or None,
            )
            name, role = rep.name, rep.role
    except OutreachError as exc:
        return _index_page(form, exc), 400
    log.info("rep %r added (%s) by %r", name, role, current_rep())
    flash(f"Added {role} {name}. Tell them their password; they can sign in now.")
    return redirect(url_for(".index"))


@blueprint.get("/<name>")
def edit(name: str) -> ResponseReturnValue:
    with current_runtime().sessions() as db:
        try:
            rep = get_rep(db, name)
        except NotFoundError:
            abort(404)
        form = {field: getattr(rep, field) or "" for field in _FIELDS}
    return render_template("reps/edit.html", form=form, error=None, field=None)


@blueprint.post("/<name>")
def update(name: str) -> ResponseReturnValue:
    form = _form()
    form["name"] = name
    runtime = current_runtime()
    try:
        with runtime.sessions.begin() as db:
            rep = update_rep(
                db,
                name,
                full_name=form["full_name"],
                email=form["email"],
                timezone=form["timezone"] or "UTC",
                role=form["role"] or None,
            )
            role = rep.role
    except NotFoundError:
        abort(404)
    except OutreachError as exc:
        page = render_template("reps/edit.html", form=form, **_error(exc))
        return page, 400
    log.info("rep %r changed by %r", name, current_rep())
    flash(f"Saved {name}.")
    if name == current_rep() and role != "admin":
        return redirect(url_for("home"))  # no longer an admin: this page is closed to them
    return redirect(url_for(".index"))


@blueprint.post("/<name>/password")
def reset_password(name: str) -> ResponseReturnValue:
    password = request.form.get("password", "")[:_MAX_PASSWORD]
    runtime = current_runtime()
    try:
        with runtime.sessions.begin() as db:
            set_password(db, name, password, at=runtime.clock.now())
    except NotFoundError:
        abort(404)
    except OutreachError as exc:
        flash(f"Password of {name} not changed: {exc}", "error")
        return redirect(url_for(".edit", name=name))
    if name == current_rep():  # stay signed in here; other sessions end
        with runtime.sessions() as db:
            mine = profile(db, name)
        if mine is not None:
            session["v"] = mine.version
    log.info("password of rep %r reset by %r", name, current_rep())
    flash(f"New password set for {name}; their other sessions have ended.")
    return redirect(url_for(".index"))


@blueprint.post("/<name>/remove")
def remove(name: str) -> ResponseReturnValue:
    if name == current_rep():
        flash("You cannot remove your own account — ask another admin.", "error")
        return redirect(url_for(".edit", name=name))
    if request.form.get("confirm") != "yes":
        flash(f"{name} not removed: tick the box to confirm.", "error")
        return redirect(url_for(".edit", name=name))
    runtime = current_runtime()
    try:
        with runtime.sessions.begin() as db:
            released = remove_rep(db, name, at=runtime.clock.now(), by=current_rep())
    except NotFoundError:
        abort(404)
    except OutreachError as exc:
        flash(f"{name} not removed: {exc}", "error")
        return redirect(url_for(".edit", name=name))
    log.info("rep %r removed by %r", name, current_rep())
    flash(f"Removed {name}; {released} open item(s) are unassigned again.")
    return redirect(url_for(".index"))


def _form() -> dict[str, str]:
    return {field: request.form.get(field, "").strip()[:_MAX_FIELD] for field in _FIELDS}


def _error(exc: OutreachError) -> dict[str, Any]:
    return {"error": str(exc), "field": exc.field if isinstance(exc, FieldError) else None}


def _index_page(form: dict[str, str], exc: OutreachError | None) -> str:
    with current_runtime().sessions() as db:
        rows = list_reps(db)
    errors = _error(exc) if exc is not None else {"error": None, "field": None}
    return render_template("reps/index.html", rows=rows, form=form, **errors)


__all__ = ["blueprint"]
