"""How finished messages leave: SMTP (reused connections, answers classified for retries),
an outbox folder of ``.eml`` files, or the console; chosen by URL.
"""

from __future__ import annotations

from worker.transports.base import LoginRefusedError, SenderRefusedError, Transport
from worker.transports.local import ConsoleTransport, OutboxTransport
from worker.transports.message import BuiltMessage
from worker.transports.smtp import SmtpTransport
from worker.transports.urls import redact_url, transport_from_url

__all__ = [
    "BuiltMessage",
    "ConsoleTransport",
    "LoginRefusedError",
    "OutboxTransport",
    "SenderRefusedError",
    "SmtpTransport",
    "Transport",
    "redact_url",
    "transport_from_url",
]
