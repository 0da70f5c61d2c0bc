"""``outreach check``: can this process reach everything it needs? One line per part."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from .authoring.sequences import load_catalog
from .db import make_engine, schema_is_current
from .errors import OutreachError
from .mailboxes import load_mailboxes
from .settings import Settings
from .transports import OutboxTransport, SmtpTransport, redact_url, transport_from_url


@dataclass(frozen=True)
class Check:
    """The result of checking one part."""

    part: str
    ok: bool
    detail: str


def run_checks(settings: Settings) -> list[Check]:
    """Check the database, the broker, sequences, mailboxes and every mailbox's transport."""
    checks = [_database(settings), _broker(settings), _sequences(settings)]
    try:
        mailboxes = load_mailboxes(settings.mailboxes_file)
    except OutreachError as exc:
        return [*checks, Check("mailboxes", False, str(exc))]
    checks.append(Check("mailboxes", True, ", ".join(sorted(mailboxes.by_name))))
    for name in sorted(mailboxes.by_name):
        checks.append(_transport(name, mailboxes.transport_url, settings))
    return checks


def _database(settings: Settings) -> Check:
    try:
        engine = make_engine(settings.database_url)
        try:
            current = schema_is_current(engine)
        finally:
            engine.dispose()
    except Exception as exc:
        return Check("database", False, f"{redact_url(settings.database_url)}: {exc}")
    state = (
        "schema current"
        if current
        else "schema not at the newest revision: commands upgrade it, or 'outreach db upgrade'"
    )
    return Check("database", True, f"{redact_url(settings.database_url)} ({state})")


def _broker(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check("broker", True, "embedded (REDIS_URL not set)")
    import redis

    try:
        redis.Redis.from_url(settings.redis_url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        return Check("broker", False, f"{redact_url(settings.redis_url)}: {exc}")
    return Check("broker", True, redact_url(settings.redis_url))


def _sequences(settings: Settings) -> Check:
    catalog, problems = load_catalog(settings.sequences_dir, settings.home)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        return Check("sequences", False, f"{len(errors)} error(s) — run 'outreach validate'")
    return Check("sequences", True, f"{len(catalog.names())} valid: {', '.join(catalog.names())}")


def _transport(name: str, url_of: object, settings: Settings) -> Check:
    part = f"transport[{name}]"
    try:
        url = url_of(name, settings.transport_url)  # type: ignore[operator]
        transport = transport_from_url(url, timeout_s=10)
        if isinstance(transport, SmtpTransport):
            transport.probe()
            return Check(part, True, f"SMTP {transport.host}:{transport.port} answered")
        if isinstance(transport, OutboxTransport):
            transport.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=transport.folder, prefix=".check-"):
                pass
            return Check(part, True, f"outbox {transport.folder} is writable")
        return Check(part, True, "console")
    except (OutreachError, OSError) as exc:
        return Check(part, False, str(exc))


__all__ = ["Check", "run_checks"]
