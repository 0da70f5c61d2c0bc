"""Unsubscribe pages: ``GET /u/<token>`` asks, ``POST /u/<token>`` unsubscribes.

The POST is also the RFC 8058 one-click request a mail provider sends on the person's
behalf (``List-Unsubscribe=One-Click``, form-encoded, without cookies), so it needs nothing
but the signed token: no session, no CSRF token (the unguessable token is the credential).
A GET never changes anything, so link scanners and prefetchers cannot unsubscribe anyone.
Both are idempotent; an invalid or altered token is a 404 and changes nothing.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from worker.delivery.rendering import lead_fields
from worker.leads.suppressions import masked, unsubscribe
from worker.store.models import Lead
from worker.store.tokens import verify_token
from worker.vocabulary import LeadStatus
from worker.web import page_language
from worker.web.context import current_runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("unsubscribe", __name__)
_TOKEN = re.compile(r"^\d{1,18}\.[0-9a-f]{32}$")
ONE_CLICK = ("List-Unsubscribe", "One-Click")


@blueprint.get("/u/<token>")
def confirm(token: str) -> ResponseReturnValue:
    lead_id = _lead_id(token)
    with current_runtime().sessions() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            abort(404)
        address, status = masked(lead.email), lead.status
        language = page_language.of_lead(lead_fields(lead))
    if status == LeadStatus.UNSUBSCRIBED:
        return render_template(
            page_language.pages("unsubscribe/done.html", language), address=address, already=True
        )
    return render_template(
        page_language.pages("unsubscribe/confirm.html", language), address=address, token=token
    )


@blueprint.post("/u/<token>")
def unsubscribe_post(token: str) -> ResponseReturnValue:
    lead_id = _lead_id(token)
    one_click = request.form.get(ONE_CLICK[0]) == ONE_CLICK[1]
    cause = "one-click" if one_click else "web"
    runtime = current_runtime()
    with runtime.sessions.begin() as session:
        done = unsubscribe(session, lead_id, at=runtime.clock.now(), cause=cause)
        lead = session.get(Lead, lead_id) if done is not None else None
        language = page_language.of_lead(lead_fields(lead)) if lead is not None else "en"
    if done is None:
        abort(404)
    if not done.already:
        log.info("lead %r unsubscribed (%s)", done.lead_id, cause)
    return render_template(
        page_language.pages("unsubscribe/done.html", language),
        address=masked(done.email),
        already=done.already,
    )


def _lead_id(token: str) -> int:
    """The lead of a valid token; 404 for anything else."""
    lead_id = verify_token(current_runtime().secret, token) if _TOKEN.match(token) else None
    if lead_id is None:
        abort(404)
    return lead_id
