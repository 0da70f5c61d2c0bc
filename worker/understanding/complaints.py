"""Spam complaints: ARF feedback reports (RFC 5965) from a mailbox provider's feedback loop.

A report is ``multipart/report; report-type=feedback-report`` with a human-readable part, a
``message/feedback-report`` part (``Feedback-Type``, ``User-Agent``, ``Version``,
``Original-Rcpt-To``, ``Reported-Domain``, …) and the original message or its headers. The
original's Message-ID matches the report to the touch (``inbound.matching``); the
``Original-Rcpt-To`` names the address that complained when the provider did not redact it.

``Feedback-Type: not-spam`` (a recipient taking a message *out* of the spam folder) is not a
complaint; every other type (``abuse``, ``fraud``, ``virus``, ``other``) is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from worker.understanding.mime import content_type

_FIELD = re.compile(r"^([A-Za-z-]+):[ \t]*(.*?)\s*$", re.M)
_ADDRESS = re.compile(r"<?([^<>\s@]+@[^<>\s@]+)>?")
NOT_COMPLAINTS = frozenset({"not-spam"})


@dataclass(frozen=True)
class Complaint:
    """What a feedback report says: its type, who complained (when not redacted), by whom."""

    feedback_type: str
    recipients: tuple[str, ...]
    reporter: str | None

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type not in NOT_COMPLAINTS


def read_complaint(message: Message) -> Complaint | None:
    """The feedback report in ``message``, or None when it carries none."""
    for part in message.walk():
        if content_type(part) != "message/feedback-report":
            continue
        fields = _fields(part)
        if "feedback-type" not in fields:
            continue
        recipients = tuple(
            found.group(1).lower()
            for value in fields.get("original-rcpt-to", [])
            if (found := _ADDRESS.search(value)) is not None
        )
        named = fields.get("user-agent") or fields.get("reporting-mta") or []
        reporter = named[0] if named else None
        return Complaint(fields["feedback-type"][0].lower(), recipients, reporter)
    return None


def _fields(part: Message) -> dict[str, list[str]]:
    """The report's fields (RFC 5965 §3.1), lower-cased names, in order, repeated kept."""
    payload = part.get_payload()
    if isinstance(payload, list):  # parsed as headers blocks by the email package
        text = "\n".join(str(block) for block in payload)
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    fields: dict[str, list[str]] = {}
    for name, value in _FIELD.findall(text):
        fields.setdefault(name.lower(), []).append(value)
    return fields


__all__ = ["Complaint", "read_complaint"]
