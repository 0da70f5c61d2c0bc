"""Signed tokens of tracked links (``/c/TOKEN``) and open pixels (``/o/TOKEN``).

A click token carries the touch, the link's place in the email, how many tracked links the
email has and the original URL itself, signed together with the runtime's secret (HMAC-SHA256,
as unsubscribe tokens are): changing any part, or putting another URL in, breaks the
signature. The redirect target is only ever the URL signed into the token, and only when it
is an ``http(s)`` URL (``safe_url``), so ``/c/`` can never be an open redirect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_CHARS = 2000
MAX_TOKEN_CHARS = 3000
_NUMBER = re.compile(r"^\d{1,18}$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{22}$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\<>\"']")


@dataclass(frozen=True)
class TrackedLink:
    """What a valid click token says: which touch, which of its links, and where it goes."""

    touch_id: int
    link: int  # the link's place in the email, from 0
    links: int  # how many tracked links the email has
    url: str


def safe_url(url: str) -> bool:
    """True for an absolute ``http``/``https`` URL with a host and nothing a browser or a
    mail client could read differently (no spaces, quotes, backslashes, control characters)."""
    if not url or len(url) > MAX_URL_CHARS or _UNSAFE.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def click_token(secret: bytes, touch_id: int, link: int, links: int, url: str) -> str:
    """``TOUCH.LINK.LINKS.URL.SIGNATURE``, the URL base64url-encoded."""
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    body = f"{touch_id}.{link}.{links}.{encoded}"
    return f"{body}.{_sign(secret, 'click', body)}"


def read_click_token(secret: bytes, token: str) -> TrackedLink | None:
    """The link of a valid token whose URL is safe to redirect to; None for anything else."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 5 or not all(_NUMBER.match(p) for p in parts[:3]):
        return None
    touch, link, links, encoded, signature = parts
    body = ".".join(parts[:4])
    if not _SIGNATURE.match(signature) or not hmac.compare_digest(
        _sign(secret, "click", body), signature
    ):
        return None
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not safe_url(url) or int(link) >= int(links):
        return None
    return TrackedLink(int(touch), int(link), int(links), url)


def open_token(secret: bytes, touch_id: int) -> str:
    """``TOUCH.SIGNATURE``: the open pixel of one touch."""
    return f"{touch_id}.{_sign(secret, 'open', str(touch_id))}"


def read_open_token(secret: bytes, token: str) -> int | None:
    """The touch of a valid open token, else None."""
    touch, _, signature = token.partition(".")
    if not _NUMBER.match(touch) or not _SIGNATURE.match(signature):
        return None
    return int(touch) if hmac.compare_digest(_sign(secret, "open", touch), signature) else None


def _sign(secret: bytes, purpose: str, body: str) -> str:
    """128 bits of HMAC-SHA256 over purpose and body, base64url (22 characters)."""
    digest = hmac.new(secret, f"{purpose}:{body}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


__all__ = [
    "TrackedLink",
    "click_token",
    "open_token",
    "read_click_token",
    "read_open_token",
    "safe_url",
]
