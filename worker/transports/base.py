"""The transport interface, and the refusals that are about the sending mailbox itself."""

from __future__ import annotations

from typing import Protocol

from worker.errors import PermanentDeliveryError
from worker.transports.message import BuiltMessage


class SenderRefusedError(PermanentDeliveryError):
    """Raised when the server refuses the sending mailbox itself (MAIL FROM 5xx).

    About the mailbox, not the lead: the send service defers the touch instead of failing it.
    """


class LoginRefusedError(SenderRefusedError):
    """Raised when the SMTP server refuses the transport URL's user and password.

    Permanent for this configuration, but it is about the mailbox, not the lead: the send
    service defers the touch (so it goes out once an operator fixes the password) instead of
    failing it and flagging the lead.
    """


class Transport(Protocol):
    """Hands one message over, or raises a DeliveryError subclass."""

    def send(self, built: BuiltMessage, touch_id: int) -> None: ...

    def close(self) -> None: ...


__all__ = ["LoginRefusedError", "SenderRefusedError", "Transport"]
