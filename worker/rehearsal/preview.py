"""Preview a touch for a lead exactly as it would be sent (headers and text)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from worker.authoring.schema import SequenceSpec
from worker.delivery.manual_steps import render_task
from worker.delivery.rendering import (
    RE_PREFIX,
    build_message,
    email_language,
    lead_fields,
    own_language,
    render_touch,
)
from worker.delivery.variants import assign_variant, resolve_variant, step_content, variant_names
from worker.errors import NotFoundError, did_you_mean
from worker.leads.addresses import normalise_email
from worker.leads.csv_input import RowError
from worker.leads.importing import lead_from_row, read_rows
from worker.runtime import Runtime
from worker.store.models import Enrollment, Lead
from worker.transports.message import BuiltMessage

TEST_PREFIX = "[TEST] "


def sample_lead(path: Path, email: str) -> Lead | None:
    """A lead from the sample CSV (not stored), or None."""
    if not path.is_file():
        return None
    for _line, row in read_rows(path):
        if isinstance(row, RowError) or row["email"] != email:
            continue
        return lead_from_row(row)
    return None


def preview_touch(
    runtime: Runtime,
    sequence: str,
    email: str,
    step: int = 1,
    variant: str | None = None,
    *,
    test_to: str | None = None,
) -> BuiltMessage:
    """Render step ``step`` (1-based) of ``sequence`` for the lead with ``email``.

    A step with A/B variants shows ``variant``, or by default the lead's own variant.
    With ``test_to`` the email is a test copy for that address (``outreach send-test``): the
    subject starts with ``[TEST]``, no thread headers, and its unsubscribe link belongs to no
    lead, so whoever clicks it changes nothing.
    """
    spec = _step_of(runtime, sequence, step)
    index = step - 1
    if not spec.steps[index].is_email:
        raise NotFoundError(
            f"Step {step} of {sequence!r} is a {spec.steps[index].type} task, not an email — "
            "'outreach preview' prints its task text."
        )
    _check_variant(spec, index, variant)
    lead = _preview_lead(runtime, email)
    mailbox = runtime.mailboxes.sender_for(spec.mailbox)
    url = runtime.unsubscribe_url(0 if test_to else lead.id or 0)
    now = runtime.clock.now()
    enrollment = Enrollment(sequence=spec.name, current_step=index)
    opener = _thread_opener(spec, index)
    if spec.steps[index].same_thread and opener is not None:
        first_rendered = render_touch(runtime.renderer, lead, mailbox, spec, opener, url)
        enrollment.thread_message_id = "<previous-touch@preview>"
        enrollment.thread_subject = first_rendered.subject
        enrollment.last_message_id = "<previous-touch@preview>"
    rendered = render_touch(runtime.renderer, lead, mailbox, spec, index, url, variant)
    if test_to is not None:
        threaded = enrollment.thread_subject if spec.steps[index].same_thread else None
        subject = f"{RE_PREFIX}{threaded}" if threaded else rendered.subject
        rendered = replace(rendered, subject=f"{TEST_PREFIX}{subject}")
        enrollment, lead = Enrollment(sequence=spec.name), Lead(email=test_to)
    return build_message(
        rendered,
        lead=lead,
        mailbox=mailbox,
        enrollment=enrollment,
        same_thread=spec.steps[index].same_thread,
        sent_at=now if isinstance(now, datetime) else datetime.now(),
        unsubscribe_url=url,
    )


def preview_variant(runtime: Runtime, sequence: str, email: str, step: int = 1) -> str | None:
    """The name of the variant the lead gets at this step (None without variants)."""
    spec = _step_of(runtime, sequence, step)
    lead = _preview_lead(runtime, email)
    chosen = assign_variant(spec.steps[step - 1], lead.email, spec.name, step - 1)
    return chosen.name if chosen is not None else None


def preview_language(
    runtime: Runtime, sequence: str, email: str, step: int = 1, variant: str | None = None
) -> tuple[str, str]:
    """The language this step is written in for the lead, and the lead's own language
    (they differ when the sequence does not declare the lead's or the step lacks its text)."""
    spec = _step_of(runtime, sequence, step)
    lead = _preview_lead(runtime, email)
    own = own_language(lead_fields(lead))
    chosen = resolve_variant(spec.steps[step - 1], lead.email, spec.name, step - 1, variant)
    template, _ = step_content(spec.steps[step - 1], chosen)
    return email_language(runtime.renderer, spec, template, own), own


def preview_task(runtime: Runtime, sequence: str, email: str, step: int) -> str:
    """The rendered ``task:`` text of a manual step for the lead with ``email``."""
    spec = _step_of(runtime, sequence, step)
    lead = _preview_lead(runtime, email)
    mailbox = runtime.mailboxes.sender_for(spec.mailbox)
    return render_task(runtime.renderer, lead, mailbox, spec, step - 1)


def _step_of(runtime: Runtime, sequence: str, step: int) -> SequenceSpec:
    spec = runtime.catalog.get(sequence)
    if not 1 <= step <= len(spec.steps):
        raise NotFoundError(
            f"Sequence {sequence!r} has steps 1-{len(spec.steps)}; there is no step {step}."
        )
    return spec


def _check_variant(spec: SequenceSpec, index: int, variant: str | None) -> None:
    if variant is None:
        return
    names = variant_names(spec.steps[index])
    if not names:
        raise NotFoundError(f"Step {index + 1} of {spec.name!r} has no A/B variants.")
    if variant not in names:
        raise NotFoundError(
            f"Step {index + 1} of {spec.name!r} has no variant {variant!r}"
            f"{did_you_mean(variant, set(names))} (variants: {', '.join(names)})."
        )


def _thread_opener(spec: SequenceSpec, index: int) -> int | None:
    """The email whose subject a ``same_thread`` step at ``index`` is shown replying to: the
    sequence's first email (manual steps before it send nothing)."""
    for earlier in range(index):
        if spec.steps[earlier].is_email:
            return earlier
    return None


def preview_lead(runtime: Runtime, email: str) -> Lead:
    """The lead a preview is rendered for: from the database, else from the sample file."""
    return _preview_lead(runtime, email)


def _preview_lead(runtime: Runtime, email: str) -> Lead:
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
    return lead
