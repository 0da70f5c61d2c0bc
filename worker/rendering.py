"""Turn a touch into a finished MIME message: template context, headers, threading."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

from .authoring.schema import SequenceSpec
from .authoring.templates import RenderedEmail, TemplateRenderer, one_line
from .mailboxes import MailboxSpec
from .models import Enrollment, Lead

RE_PREFIX = "Re: "


class _CachedHeaderRegistry(HeaderRegistry):
    """The standard registry, but each header class is built once (the stock one rebuilds
    a class on every header set, a large share of the cost of building a message)."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


POLICY = SMTP.clone(header_factory=_CachedHeaderRegistry())


@dataclass(frozen=True)
class BuiltMessage:
    """A message ready for a transport, with what the ledger needs to remember."""

    message: EmailMessage
    message_id: str
    subject: str
    sender: str
    recipient: str


def _address(display_name: str, email: str) -> Address:
    """An Address built from parts (validated addresses; skips the costly header parser)."""
    username, _, domain = email.rpartition("@")
    return Address(display_name=display_name, username=username, domain=domain)


def new_message_id(domain: str) -> str:
    """A unique, unguessable Message-ID short enough to stay on one header line."""
    return f"<{secrets.token_hex(12)}@{domain}>"


def lead_fields(lead: Lead) -> dict[str, Any]:
    """Every known field of a lead (absent ones left out, so templates see them undefined)."""
    values: dict[str, Any] = dict(lead.fields or {})
    for name in ("first_name", "last_name", "company", "timezone", "country", "deal_value"):
        value = getattr(lead, name)
        if value is not None and value != "":
            values[name] = value
    values["email"] = lead.email
    values["stage"] = lead.stage
    return values


def template_context(
    lead: Lead | dict[str, Any],
    mailbox: MailboxSpec,
    spec: SequenceSpec,
    step_index: int,
    unsubscribe_url: str,
) -> dict[str, Any]:
    """The variables a touch template sees."""
    fields = lead if isinstance(lead, dict) else lead_fields(lead)
    sender = {
        "name": mailbox.display_name or mailbox.address,
        "address": mailbox.address,
        "title": mailbox.title,
        "company": mailbox.company,
        "phone": mailbox.phone,
    }
    return {
        "lead": SimpleNamespace(**fields),
        "sender": SimpleNamespace(**{k: v for k, v in sender.items() if v is not None}),
        "sequence": SimpleNamespace(name=spec.name, stage=spec.stage),
        "step": SimpleNamespace(number=step_index + 1, total=len(spec.steps)),
        "unsubscribe_url": unsubscribe_url,
    }


def render_touch(
    renderer: TemplateRenderer,
    lead: Lead | dict[str, Any],
    mailbox: MailboxSpec,
    spec: SequenceSpec,
    step_index: int,
    unsubscribe_url: str,
) -> RenderedEmail:
    """Render one step of ``spec`` for ``lead``; TemplateRenderError on any problem."""
    step = spec.steps[step_index]
    context = template_context(lead, mailbox, spec, step_index, unsubscribe_url)
    return renderer.render(step.template, context, step.subject)


def build_message(
    rendered: RenderedEmail,
    *,
    lead: Lead,
    mailbox: MailboxSpec,
    enrollment: Enrollment,
    same_thread: bool,
    sent_at: datetime,
    unsubscribe_url: str,
    list_unsubscribe: bool = True,
) -> BuiltMessage:
    """Build the MIME message; names and subjects are folded to one line (no header injection)."""
    subject = rendered.subject
    in_reply_to = None
    references: list[str] = []
    if same_thread and enrollment.thread_message_id and enrollment.thread_subject:
        base = enrollment.thread_subject
        subject = base if base.lower().startswith("re:") else RE_PREFIX + base
        in_reply_to = enrollment.last_message_id or enrollment.thread_message_id
        references = [enrollment.thread_message_id]
        if in_reply_to != enrollment.thread_message_id:
            references.append(in_reply_to)
    domain = mailbox.address.rsplit("@", 1)[-1]
    message_id = new_message_id(domain)
    to_name = one_line(" ".join(filter(None, [lead.first_name, lead.last_name])))
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(one_line(mailbox.display_name or ""), mailbox.address)
    msg["To"] = _address(to_name, lead.email)
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join(references)
    if list_unsubscribe:
        msg["List-Unsubscribe"] = (
            f"<{unsubscribe_url}>, <mailto:{mailbox.address}?subject=unsubscribe>"
        )
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    return BuiltMessage(
        message=msg,
        message_id=message_id,
        subject=one_line(subject),
        sender=mailbox.address,
        recipient=lead.email,
    )
