"""Preview a touch for a lead exactly as it would be sent (headers and text)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .errors import NotFoundError
from .leads import RowError, lead_from_row, normalise_email, read_rows
from .models import Enrollment, Lead
from .rendering import BuiltMessage, build_message, render_touch
from .runtime import Runtime


def sample_lead(path: Path, email: str) -> Lead | None:
    """A lead from the sample CSV (not stored), or None."""
    if not path.is_file():
        return None
    for _line, row in read_rows(path):
        if isinstance(row, RowError) or row["email"] != email:
            continue
        return lead_from_row(row)
    return None


def preview_touch(runtime: Runtime, sequence: str, email: str, step: int = 1) -> BuiltMessage:
    """Render step ``step`` (1-based) of ``sequence`` for the lead with ``email``."""
    spec = runtime.catalog.get(sequence)
    if not 1 <= step <= len(spec.steps):
        raise NotFoundError(
            f"Sequence {sequence!r} has steps 1-{len(spec.steps)}; there is no step {step}."
        )
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    with runtime.sessions() as session:
        lead = session.scalar(select(Lead).where(Lead.email == address))
        if lead is not None:
            session.expunge(lead)
    if lead is None:
        lead = sample_lead(runtime.settings.sample_leads_file, address)
    if lead is None:
        raise NotFoundError(
            f"No lead {address!r} in the database or in "
            f"{runtime.settings.sample_leads_file.name} — "
            "import it first or pick a sample lead."
        )
    mailbox = runtime.mailboxes.get(spec.mailbox)
    url = runtime.unsubscribe_url(lead.id or 0)
    now = runtime.clock.now()
    enrollment = Enrollment(sequence=spec.name, current_step=step - 1)
    index = step - 1
    if spec.steps[index].same_thread:
        first: dict[str, Any] = {}
        first_rendered = render_touch(runtime.renderer, lead, mailbox, spec, 0, url)
        first["subject"] = first_rendered.subject
        enrollment.thread_message_id = "<previous-touch@preview>"
        enrollment.thread_subject = first["subject"]
        enrollment.last_message_id = "<previous-touch@preview>"
    rendered = render_touch(runtime.renderer, lead, mailbox, spec, index, url)
    return build_message(
        rendered,
        lead=lead,
        mailbox=mailbox,
        enrollment=enrollment,
        same_thread=spec.steps[index].same_thread,
        sent_at=now if isinstance(now, datetime) else datetime.now(),
        unsubscribe_url=url,
    )
