"""Manual steps: a call or LinkedIn task for a rep instead of an email.

When a ``type: call`` / ``type: linkedin`` step is due, the tick writes its touch (one per
enrollment and step, like an email's) with status ``task_open`` and never enqueues it, and
puts a review item in the queue: reason ``task_call`` / ``task_linkedin``, the rendered task
text, the due time, suggested action ``done``. A task is work, not a problem: the lead stays
``active``.

A task touch ends in one of four ways:

- ``done`` or ``skipped`` by a rep (``outreach review resolve ID --action done|skip``): the
  enrollment moves on to the next step after its wait;
- ``expired`` when its ``timeout`` passes (the tick): the item is resolved with ``timeout``
  and the sequence moves on as well;
- ``skipped`` when its enrollment is paused or stopped (a reply, a rep): the item is closed,
  the enrollment stays at the step, and the task opens again when the enrollment resumes.

The touch's ``available_at`` holds the moment the task times out (far in the future without
a ``timeout``), so finding expired tasks is one range scan on the touches' status index.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from sqlalchemy import literal_column, null, select
from sqlalchemy.orm import Session

from worker.authoring.mailboxes import MailboxSpec
from worker.authoring.schema import SequenceSpec
from worker.authoring.step_ids import step_ids
from worker.authoring.template_limits import render_bounded, render_budget
from worker.authoring.templates import TemplateRenderer, one_line
from worker.delivery.claiming import why_not
from worker.delivery.rendering import lead_fields, template_context
from worker.errors import OutreachError, TemplateRenderError
from worker.leads.addresses import suppressed_values
from worker.leads.ownership import assign_to_owner
from worker.leads.rep_tasks import NEVER, task_reason
from worker.runtime import Runtime
from worker.store import events
from worker.store.dialect import dialect_insert
from worker.store.models import Enrollment, Lead, ReviewItem, Touch
from worker.timing.windows import due_at
from worker.vocabulary import EventKind, ReviewAction, TouchStatus

log = logging.getLogger(__name__)
_UNDEFINED = re.compile(r"^'(?P<name>\w+)' is undefined$")

_DETAIL_MAX = 4000

# ---- rendering -------------------------------------------------------------------------------


def render_task(
    renderer: TemplateRenderer,
    lead: Lead | dict[str, Any],
    mailbox: MailboxSpec,
    spec: SequenceSpec,
    step_index: int,
) -> str:
    """The step's ``task:`` text for ``lead``; TemplateRenderError naming the task otherwise.

    The text sees what templates see (``lead``, ``sender``, ``sequence``, ``step``) and, for
    short texts, every lead field by its own name: ``{{ first_name }}`` = ``{{ lead.first_name }}``.
    """
    step = spec.steps[step_index]
    source = step.task
    if source is None:
        raise TemplateRenderError(f"step {step_index + 1} of {spec.name!r} is not a manual task")
    fields = lead if isinstance(lead, dict) else lead_fields(lead)
    context = {**fields, **template_context(fields, mailbox, spec, step_index, "")}
    try:
        with render_budget():
            text = render_bounded(renderer.env.from_string(source), context)
    except TemplateSyntaxError as exc:
        problem = f"syntax error: {exc.message}"
    except UndefinedError as exc:
        named = _UNDEFINED.match(exc.message or "")
        field = named["name"] if named else "first_name"
        problem = (
            f"{exc.message} — add the field to the lead or a default: "
            f"{{{{ {field} | default('...') }}}}"
        )
    except SecurityError as exc:
        problem = f"not allowed in tasks: {exc}"
    except Exception as exc:  # any other error of the text: report it, never crash the tick
        problem = f"{type(exc).__name__}: {exc}"
    else:
        text = text.strip()
        if not text:
            raise TemplateRenderError(f"task {source!r}: the task rendered empty")
        return text
    raise TemplateRenderError(f"task {source!r}: {problem}")


# ---- opening (the tick) ----------------------------------------------------------------------


def open_tasks(
    session: Session, runtime: Runtime, due: list[tuple[Enrollment, SequenceSpec]], now: datetime
) -> list[int]:
    """Write the task touches of due manual steps and queue them for reps (each for the
    lead's owner, when it has one); return their ids.

    Runs inside the tick's transaction. A lead that is not active (or is suppressed) gets its
    task touch ``skipped`` like an email would be: it comes back when the lead is resumed.
    """
    if not due:
        return []
    lead_ids = sorted({enrollment.lead_id for enrollment, _ in due})
    leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids)))}
    blocked = suppressed_values(session, [lead.email for lead in leads.values()])
    rows: list[dict[str, Any]] = []
    texts: dict[int, str] = {}
    for enrollment, spec in due:
        lead = leads[enrollment.lead_id]
        step = spec.steps[enrollment.current_step]
        mailbox_name = enrollment.mailbox or spec.mailbox
        due_at_ = enrollment.next_due_at or now
        text, error = _task_text(runtime, lead, mailbox_name, spec, enrollment.current_step)
        reason = why_not(lead, enrollment, enrollment.current_step, blocked)
        expires = NEVER
        if step.timeout is not None:
            expires = due_at(
                runtime.catalog.schedules,
                spec.schedule,
                due_at_,
                step.timeout,
                timezone=lead.timezone,
                country=lead.country,
                lead_id=lead.id,
                sequence=spec.name,
                step_index=enrollment.current_step,
                sends=False,
            )
        rows.append(
            {
                "enrollment_id": enrollment.id,
                "lead_id": lead.id,
                "sequence": enrollment.sequence,
                "step_index": enrollment.current_step,
                "step_id": step_ids(spec)[enrollment.current_step],
                "version": enrollment.version,
                "kind": step.type,
                "status": TouchStatus.SKIPPED if reason else TouchStatus.TASK_OPEN,
                "due_at": due_at_,
                "created_at": now,
                "available_at": expires,
                "enqueued_at": None,
                "finished_at": now if reason else None,
                "mailbox": mailbox_name,
                "attempts": 0,
                "subject": text[:1000],
                "last_error": reason or error,
            }
        )
        texts[enrollment.id] = text
        enrollment.next_due_at = None
    insert = dialect_insert(session, Touch)
    # A task skipped while its lead was paused opens again when the step is due again.
    stmt = insert.on_conflict_do_update(
        index_elements=["enrollment_id", "step_id"],
        set_={
            "step_index": insert.excluded.step_index,
            "version": insert.excluded.version,
            "kind": insert.excluded.kind,
            "status": insert.excluded.status,
            "due_at": insert.excluded.due_at,
            "available_at": insert.excluded.available_at,
            "enqueued_at": null(),
            "finished_at": insert.excluded.finished_at,
            "subject": insert.excluded.subject,
            "last_error": insert.excluded.last_error,
            "claim_token": null(),
            "claimed_at": null(),
        },
        where=Touch.status == literal_column(f"'{TouchStatus.SKIPPED}'"),
    ).returning(
        Touch.id,
        Touch.enrollment_id,
        Touch.lead_id,
        Touch.sequence,
        Touch.step_index,
        Touch.kind,
        Touch.status,
        Touch.due_at,
        Touch.available_at,
        Touch.last_error,
    )
    opened: list[int] = []
    owned: list[tuple[ReviewItem, str]] = []
    for row in session.execute(stmt, rows):
        base = {
            "at": now,
            "lead_id": row.lead_id,
            "touch_id": row.id,
            "sequence": row.sequence,
            "step_index": row.step_index,
        }
        if row.status != TouchStatus.TASK_OPEN:
            events.record(session, EventKind.SKIPPED, cause=row.last_error, **base)
            continue
        text = texts[row.enrollment_id]
        timeout_at = None if row.available_at >= NEVER else row.available_at
        item = ReviewItem(
            lead_id=row.lead_id,
            touch_id=row.id,
            reason=task_reason(row.kind),
            detail=text[:_DETAIL_MAX],
            priority=0,
            suggested_action=ReviewAction.DONE,
            due_at=row.due_at,
            created_at=now,
        )
        session.add(item)
        owner = leads[row.lead_id].owner
        if owner:
            owned.append((item, owner))
        events.record(
            session,
            EventKind.TASK_OPENED,
            cause="due",
            task=row.kind,
            text=text[:_DETAIL_MAX],
            due_at=row.due_at.isoformat(),
            expires_at=timeout_at.isoformat() if timeout_at else None,
            **base,
        )
        opened.append(row.id)
    session.flush()
    for item, owner in owned:  # the task goes to the lead's owner, its id known now
        assign_to_owner(session, item, owner, at=now)
    return opened


def _task_text(
    runtime: Runtime, lead: Lead, mailbox_name: str, spec: SequenceSpec, step_index: int
) -> tuple[str, str | None]:
    """The rendered task; on an error the raw text with the problem (a rep can still act)."""
    source = spec.steps[step_index].task or ""
    try:
        mailbox = runtime.mailboxes.get(mailbox_name)
        return render_task(runtime.renderer, lead, mailbox, spec, step_index), None
    except OutreachError as exc:
        log.warning("task of lead %r, step %r of %r: %s", lead.id, step_index + 1, spec.name, exc)
        return f"{one_line(source)} [could not fill in: {exc}]", str(exc)


__all__ = ["open_tasks", "render_task"]
