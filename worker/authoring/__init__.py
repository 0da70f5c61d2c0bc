"""What a team writes and reviews in git: sequences, templates, schedules.yaml, mailboxes.yaml
and reply rules, loaded with every problem reported as ``path:line: message``.
"""

from __future__ import annotations

from worker.authoring.mailboxes import Mailboxes, MailboxSpec, load_mailboxes
from worker.authoring.problems import Problem, display_path
from worker.authoring.schedules import Schedules, ScheduleSpec, load_schedules
from worker.authoring.schema import OnComplete, SequenceSpec, StepSpec, VariantSpec, Wait
from worker.authoring.sequences import Catalog, load_catalog
from worker.authoring.templates import RenderedEmail, TemplateRenderer

__all__ = [
    "Catalog",
    "MailboxSpec",
    "Mailboxes",
    "OnComplete",
    "Problem",
    "RenderedEmail",
    "ScheduleSpec",
    "Schedules",
    "SequenceSpec",
    "StepSpec",
    "TemplateRenderer",
    "VariantSpec",
    "Wait",
    "display_path",
    "load_catalog",
    "load_mailboxes",
    "load_schedules",
]
