"""The lead page's "next email": what the lead's sequence sends next, rendered as it will go
out (subject and text), or why it cannot be rendered. Rendering only: nothing is sent."""

from __future__ import annotations

from typing import Any

from worker.errors import OutreachError
from worker.rehearsal.preview import preview_task, preview_touch
from worker.runtime import Runtime
from worker.vocabulary import EnrollmentStatus

_PENDING = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


def next_email(runtime: Runtime, lead: dict[str, Any]) -> dict[str, Any] | None:
    """``{"sequence", "step", "kind", "paused", "subject", "text", "error"}`` for the next step
    of the lead's open sequence (``lead`` as ``lead_page`` gives it); None when none is open."""
    sequence, step = lead.get("sequence"), lead.get("step")
    if not sequence or not step or lead.get("enrollment_status") not in _PENDING:
        return None
    found: dict[str, Any] = {
        "sequence": sequence,
        "step": step,
        "kind": "email",
        "paused": lead.get("enrollment_status") == EnrollmentStatus.PAUSED,
        "subject": None,
        "text": None,
        "error": None,
    }
    try:
        spec = runtime.catalog.get(sequence)
        if step > len(spec.steps):
            return None  # past the last step: the sequence is completing
        if not spec.steps[step - 1].is_email:
            found["kind"] = spec.steps[step - 1].type
            found["text"] = preview_task(runtime, sequence, lead["email"], step)
            return found
        built = preview_touch(runtime, sequence, lead["email"], step)
    except OutreachError as exc:
        found["error"] = str(exc)
        return found
    found["subject"] = built.subject
    found["text"] = built.text
    return found


__all__ = ["next_email"]
