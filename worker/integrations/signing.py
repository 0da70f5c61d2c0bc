"""How a delivery is signed, and how a receiver checks it.

``Outreach-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`` where
``timestamp`` is the ``Outreach-Timestamp`` header (unix seconds) and ``body`` the raw bytes
of the request. ``verify`` is the receiver's side, as documented in docs/integrations.md.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Outreach-Signature"
TIMESTAMP_HEADER = "Outreach-Timestamp"
ID_HEADER = "Outreach-Webhook-Id"
EVENT_HEADER = "Outreach-Event"
VERSION = "v1"
TOLERANCE_S = 300  # how old a timestamp a receiver should accept (replays after that fail)


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The value of the ``Outreach-Signature`` header."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify(
    secret: bytes, header: str, timestamp: str, body: bytes, now: float, tolerance_s: int = 300
) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp``, no older than ``tolerance_s``."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(header, signature(secret, sent, body))


__all__ = [
    "EVENT_HEADER",
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_S",
    "signature",
    "verify",
]
