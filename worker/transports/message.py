"""What a transport hands over: a finished message's bytes and what the ledger remembers."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default


@dataclass(frozen=True)
class BuiltMessage:
    """A finished message as the bytes that go on the wire, with what the ledger remembers."""

    data: bytes
    message_id: str
    subject: str
    sender: str
    recipient: str
    text: str | None = None  # the text/plain part as rendered (what the timeline shows)

    @property
    def message(self) -> EmailMessage:
        """The message parsed back (for previews and checks; transports send ``data``)."""
        parsed = message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


__all__ = ["BuiltMessage"]
