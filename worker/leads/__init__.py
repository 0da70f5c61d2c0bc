"""Leads and their state: addresses and the one suppression rule, import and capture,
enrollment, pausing and stopping, stages, completion, flags and rep tasks, the suppression list.
"""

from __future__ import annotations

from worker.leads import lifecycle
from worker.leads.addresses import domain_of, normalise_email, suppressed_values
from worker.leads.capture import capture_lead
from worker.leads.completion import complete_enrollment
from worker.leads.enrollment import enroll_leads
from worker.leads.flags import HOT, flag
from worker.leads.importing import ImportReport, import_leads
from worker.leads.resuming import resume_due
from worker.leads.stages import change_stage, next_stage
from worker.leads.suppressions import unsubscribe

__all__ = [
    "HOT",
    "ImportReport",
    "capture_lead",
    "change_stage",
    "complete_enrollment",
    "domain_of",
    "enroll_leads",
    "flag",
    "import_leads",
    "lifecycle",
    "next_stage",
    "normalise_email",
    "resume_due",
    "suppressed_values",
    "unsubscribe",
]
