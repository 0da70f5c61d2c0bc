"""``outreach check``: can this process reach everything it needs? One line per part."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import select

from worker.authoring.mailboxes import Mailboxes, load_mailboxes
from worker.authoring.problems import Problem, display_path
from worker.authoring.sequences import Catalog, load_catalog
from worker.errors import OutreachError
from worker.inbound.imap import is_imap_url, probe
from worker.integrations.config import integration_problems, integrations_path
from worker.operations import heartbeats
from worker.settings import DEFAULT_PUBLIC_URL, Settings
from worker.store.db import make_engine, schema_is_current, session_factory
from worker.store.models import Rep
from worker.transports.local import OutboxTransport
from worker.transports.smtp import SmtpTransport
from worker.transports.urls import redact_url, transport_from_url


@dataclass(frozen=True)
class Check:
    """The result of checking one part."""

    part: str
    ok: bool
    detail: str
    warning: bool = False  # works, but will hurt: printed as "warn", does not fail the check


def run_checks(settings: Settings) -> list[Check]:
    """Check the database, the broker, sequences, mailboxes, transports and inboxes."""
    catalog, problems = load_catalog(settings.sequences_dir, settings.home)  # read once
    checks = [
        _database(settings),
        _broker(settings),
        *_processes(settings),
        _sequences(catalog, problems),
    ]
    if settings.capture_sequence:
        checks.append(_capture(settings, catalog))
    try:
        mailboxes = load_mailboxes(settings.mailboxes_file)
    except OutreachError as exc:
        return [*checks, Check("mailboxes", False, str(exc))]
    checks.append(Check("mailboxes", True, ", ".join(sorted(mailboxes.by_name))))
    for name in sorted(mailboxes.by_name):
        checks.append(_transport(name, mailboxes, settings))
    checks += _integrations(settings, mailboxes)
    checks += _owners(settings, mailboxes)
    return checks + _inboxes(settings, mailboxes) + _what_will_hurt(settings, mailboxes, catalog)


def _owners(settings: Settings, mailboxes: Mailboxes) -> list[Check]:
    """Every owner ``mailboxes.yaml`` names must be a rep (none named: no line)."""
    if not mailboxes.owner_refs:
        return []
    try:
        engine = make_engine(settings.database_url)
        try:
            if not schema_is_current(engine):
                return []  # reported by the database line
            with session_factory(engine)() as session:
                wanted = {name for name, _ in mailboxes.owner_refs}
                reps = set(session.scalars(select(Rep.name).where(Rep.name.in_(wanted))))
        finally:
            engine.dispose()
    except Exception:  # the database line says what is wrong
        return []
    shown = display_path(settings.mailboxes_file, settings.home)
    unknown = [
        Check(
            "owners",
            False,
            f"{shown}:{line}: owner {name!r} is not a rep — add them with "
            f"'outreach reps add {name}' or fix the name (see 'outreach reps list')",
        )
        for name, line in mailboxes.owner_refs
        if name not in reps
    ]
    return unknown or [Check("owners", True, ", ".join(sorted(reps)) + " own leads by rule")]


def _integrations(settings: Settings, mailboxes: Mailboxes) -> list[Check]:
    """integrations.yaml (webhooks, notifications): each problem as ``path:line: message``."""
    if not integrations_path(settings.home).is_file():
        return []
    problems = integration_problems(settings.home, set(mailboxes.by_name), settings.environ)
    errors = [str(p) for p in problems if p.severity == "error"]
    warnings = [_warn("integrations", str(p)) for p in problems if p.severity == "warning"]
    if errors:
        return [Check("integrations", False, "; ".join(errors)), *warnings]
    return [Check("integrations", True, "integrations.yaml is valid"), *warnings]


def _what_will_hurt(settings: Settings, mailboxes: Mailboxes, catalog: Catalog) -> list[Check]:
    """Settings that work today and hurt later: warnings, each saying what to do."""
    found: list[Check] = []
    sending = sorted(
        {
            member
            for loaded in catalog.sequences.values()
            for member in mailboxes.members(loaded.spec.mailbox)
            if member in mailboxes.by_name
        }
    )
    for name in sending:
        try:
            inbox = settings.inbox_url or mailboxes.inbox_url(name, settings.environ)
        except OutreachError:
            inbox = "broken"  # reported as a failing inbox above
        if not inbox:
            found.append(
                _warn(
                    f"inbox[{name}]",
                    "no inbox: replies to this mailbox are never read, so no reply stops a "
                    "sequence — set 'inbox:' in mailboxes.yaml or OUTREACH_INBOX_URL",
                )
            )
        if mailboxes.by_name[name].daily_limit is None:
            found.append(
                _warn(
                    f"limit[{name}]",
                    "no daily_limit: a large import can send hundreds of mails from it in a day "
                    "— set daily_limit in mailboxes.yaml (new mailboxes: start near 30)",
                )
            )
    url = urlsplit(settings.public_url)
    if settings.public_url == DEFAULT_PUBLIC_URL or url.hostname in ("127.0.0.1", "localhost"):
        found.append(
            _warn(
                "public url",
                f"OUTREACH_PUBLIC_URL is {settings.public_url}: the unsubscribe links in every "
                "email point there — set it to the address your web app is reached at",
            )
        )
    elif url.scheme != "https":
        found.append(
            _warn(
                "public url",
                f"OUTREACH_PUBLIC_URL {settings.public_url} is not https: mail clients and "
                "recipients distrust plain-http unsubscribe links — serve the web app over https",
            )
        )
    if not settings.secret_key:
        found.append(
            _warn(
                "secret key",
                "OUTREACH_SECRET_KEY is not set: unsubscribe links are signed with a key kept "
                "only in the database, so links already sent break if it is lost — set it",
            )
        )
    return found


def _warn(part: str, detail: str) -> Check:
    return Check(part, True, detail, warning=True)


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


def _processes(settings: Settings) -> list[Check]:
    """Registered processes: a stale heartbeat fails; Redis without a live worker warns."""
    try:
        engine = make_engine(settings.database_url)
        try:
            if not schema_is_current(engine):
                return []  # reported by the database line
            with session_factory(engine)() as session:
                alive = heartbeats.live(session, settings)
                stopped = heartbeats.stale(session, settings)
        finally:
            engine.dispose()
    except Exception:  # the database line says what is wrong
        return []
    checks = [
        Check(
            "processes",
            False,
            f"{heartbeats.describe(row)} — restart it; its touches are recovered by the next tick",
        )
        for row in stopped
    ]
    roles = sorted(role for row in alive for role in row.roles.split(","))
    if alive:
        checks.append(Check("processes", True, f"{len(alive)} alive ({', '.join(roles)})"))
    if settings.uses_redis and "worker" not in roles:
        checks.append(
            _warn(
                "processes",
                "REDIS_URL is set but no dramatiq worker is alive: nothing enqueued is sent — "
                "start 'dramatiq worker.actors' (the Procfile's worker)",
            )
        )
    return checks


def _broker(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check("broker", True, "embedded (REDIS_URL not set)")
    import redis

    try:
        redis.Redis.from_url(settings.redis_url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        return Check("broker", False, f"{redact_url(settings.redis_url)}: {exc}")
    return Check("broker", True, redact_url(settings.redis_url))


def _sequences(catalog: Catalog, problems: list[Problem]) -> Check:
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        return Check("sequences", False, f"{len(errors)} error(s) — run 'outreach validate'")
    return Check("sequences", True, f"{len(catalog.names())} valid: {', '.join(catalog.names())}")


def _capture(settings: Settings, catalog: Catalog) -> Check:
    """The sequence lead capture enrolls into must exist."""
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
