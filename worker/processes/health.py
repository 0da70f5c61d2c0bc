"""``outreach check``: can this process reach everything it needs? One line per part."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from worker.authoring.mailboxes import Mailboxes, load_mailboxes
from worker.authoring.sequences import load_catalog
from worker.errors import OutreachError
from worker.inbound.imap import is_imap_url, probe
from worker.settings import Settings
from worker.store.db import make_engine, schema_is_current
from worker.transports.local import OutboxTransport
from worker.transports.smtp import SmtpTransport
from worker.transports.urls import redact_url, transport_from_url


@dataclass(frozen=True)
class Check:
    """The result of checking one part."""

    part: str
    ok: bool
    detail: str


def run_checks(settings: Settings) -> list[Check]:
    """Check the database, the broker, sequences, mailboxes, transports and inboxes."""
    checks = [_database(settings), _broker(settings), _sequences(settings)]
    if settings.capture_sequence:
        checks.append(_capture(settings))
    try:
        mailboxes = load_mailboxes(settings.mailboxes_file)
    except OutreachError as exc:
        return [*checks, Check("mailboxes", False, str(exc))]
    checks.append(Check("mailboxes", True, ", ".join(sorted(mailboxes.by_name))))
    for name in sorted(mailboxes.by_name):
        checks.append(_transport(name, mailboxes, settings))
    return checks + _inboxes(settings, mailboxes)


def _inboxes(settings: Settings, mailboxes: Mailboxes) -> list[Check]:
    """Every configured inbox: an IMAP login and folder, or a readable local path."""
    sources = [("default", settings.inbox_url)] if settings.inbox_url else []
    checks: list[Check] = []
    for name in sorted(mailboxes.by_name):
        try:
            url = mailboxes.inbox_url(name, settings.environ)
        except OutreachError as exc:
            checks.append(Check(f"inbox[{name}]", False, str(exc)))
            continue
        if url:
            sources.append((name, url))
    for name, url in sources:
        checks.append(_inbox(f"inbox[{name}]", url))
    return checks


def _inbox(part: str, url: str) -> Check:
    try:
        if is_imap_url(url):
            return Check(part, True, probe(url))
        path = Path(unquote(urlsplit(url).path) if url.startswith("file://") else url)
        if not path.exists():
            return Check(part, False, f"{path}: no such maildir, folder or mbox")
        return Check(part, True, f"{path} is readable")
    except (OutreachError, OSError) as exc:
        return Check(part, False, str(exc))


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


def _capture(settings: Settings) -> Check:
    """The sequence lead capture enrolls into must exist."""
    catalog, _ = load_catalog(settings.sequences_dir, settings.home)
    name = settings.capture_sequence
    if name not in catalog.sequences:
        return Check(
            "capture",
            False,
            f"OUTREACH_CAPTURE_SEQUENCE={name!r} is not a sequence — use one of "
            f"{', '.join(catalog.names())}",
        )
    api = "form and JSON API" if settings.capture_api_key else "form only (no API key)"
    return Check("capture", True, f"{api}, enrolling into {name!r}")


def _transport(name: str, mailboxes: Mailboxes, settings: Settings) -> Check:
    part = f"transport[{name}]"
    try:
        url = mailboxes.transport_url(name, settings.transport_url, settings.environ)
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
