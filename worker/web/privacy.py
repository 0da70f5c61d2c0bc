"""Data-protection requests on the lead page, for admins: download everything held about the
person as JSON, and erase them after typing their address to confirm (``worker.privacy``)."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from worker.errors import OutreachError
from worker.privacy import erase, export
from worker.store.models import Lead
from worker.web.auth import admin_required, current_rep
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("privacy", __name__, url_prefix="/leads")


def _email_of(lead_id: int) -> str:
    with current_runtime().sessions() as session:
        email = session.scalar(select(Lead.email).where(Lead.id == lead_id))
    if email is None:
        abort(404)
    return email


@blueprint.get("/<int:lead_id>/export.json")
@admin_required
def export_json(lead_id: int) -> ResponseReturnValue:
    runtime = current_runtime()
    email = _email_of(lead_id)
    with runtime.sessions() as session:
        document = export(session, email, at=runtime.clock.now())
    log.info("rep %r exported the data of lead %r", current_rep(), lead_id)
    body = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    filename = f"personal-data-lead-{lead_id}.json"
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@blueprint.get("/<int:lead_id>/erase")
@admin_required
def confirm_erase(lead_id: int) -> ResponseReturnValue:
    return render_template("privacy/erase.html", lead_id=lead_id, email=_email_of(lead_id))


@blueprint.post("/<int:lead_id>/erase")
@admin_required
def erase_lead(lead_id: int) -> ResponseReturnValue:
    runtime = current_runtime()
    email = _email_of(lead_id)
    typed = (request.form.get("confirm") or "").strip().lower()
    if typed != email:
        return (
            render_template(
                "privacy/erase.html",
                lead_id=lead_id,
                email=email,
                problem="The address you typed is not this lead's — nothing was erased.",
            ),
            422,
        )
    try:
        with runtime.sessions.begin() as session:
            report = erase(session, email, at=runtime.clock.now(), by=current_rep())
    except OutreachError as exc:
        flash(str(exc), "error")
        return redirect(url_for("leads.show", lead_id=lead_id))
    deleted = sum(report.deleted.values())
    flash(
        f"Erased: {deleted} rows deleted, {sum(report.scrubbed.values())} rows of others "
        f"scrubbed (erasure {report.erasure_id}). The address stays suppressed by its hash."
    )
    return redirect(url_for("leads.index"))


__all__ = ["blueprint"]
