"""Transports from URLs (``OUTREACH_TRANSPORT_URL``, a mailbox's ``transport_env``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from worker.errors import ConfigError
from worker.transports.base import Transport
from worker.transports.local import ConsoleTransport, OutboxTransport
from worker.transports.smtp import SmtpTransport

_SMTP_MODES = {"smtp": "plain", "smtps": "ssl", "smtp+starttls": "starttls"}
_SMTP_PORTS = {"plain": 25, "ssl": 465, "starttls": 587}


def transport_from_url(url: str, *, timeout_s: float = 30.0) -> Transport:
    """A transport for an ``smtp://``, ``smtps://``, ``smtp+starttls://``, ``file://`` or
    ``console:`` URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return ConsoleTransport()
    if scheme == "file":
        path = unquote(parts.path or "") if not parts.netloc else unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigError(
                f"OUTREACH_TRANSPORT_URL {url!r} names no folder — use file:///path/to/outbox."
            )
        return OutboxTransport(Path(path))
    if scheme in _SMTP_MODES:
        mode = _SMTP_MODES[scheme]
        if not parts.hostname:
            raise ConfigError(
                f"OUTREACH_TRANSPORT_URL {redact_url(url)!r} has no host — use smtp://host:25."
            )
        query = parse_qs(parts.query)
        try:
            port = parts.port or _SMTP_PORTS[mode]
        except ValueError:
            raise ConfigError(
                f"OUTREACH_TRANSPORT_URL {redact_url(url)!r} has an invalid port."
            ) from None
        try:
            timeout = float(query.get("timeout", [timeout_s])[0])
        except ValueError:
            raise ConfigError(
                f"OUTREACH_TRANSPORT_URL {redact_url(url)!r} has an invalid timeout — use e.g. "
                "?timeout=30 (seconds)."
            ) from None
        return SmtpTransport(
            parts.hostname,
            port,
            mode=mode,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout_s=timeout,
            ca_file=query.get("cafile", [None])[0],
            verify=query.get("verify", ["yes"])[0].lower() not in ("no", "false", "0"),
        )
    raise ConfigError(
        f"OUTREACH_TRANSPORT_URL {redact_url(url)!r} is not supported — use smtp://, smtps://, "
        "smtp+starttls://, file://PATH or console:."
    )


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


__all__ = ["redact_url", "transport_from_url"]
