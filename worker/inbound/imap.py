"""Read an IMAP folder incrementally by UID; every message is stored raw with its checkpoint.

``imap://user:password@host:port/FOLDER`` (plain, for loopback), ``imaps://`` (implicit TLS)
or ``imap+starttls://``; options ``?cafile=PATH``, ``?verify=false``, ``?timeout=SECONDS``,
``?sent=FOLDER`` (where the provider keeps sent mail, when it does not flag it ``\\Sent``).
The folder is examined read-only and messages are fetched with ``BODY.PEEK[]``: flags stay as
they are and nothing is ever deleted or moved on the server.

Each message is stored in its own transaction together with the advance of the folder's UID
checkpoint (``app_state``), so a crash loses nothing and the next run goes on where this one
stopped. When the folder's UIDVALIDITY changes the folder is read again from the start; the
dedupe by Message-ID (or content hash) keeps one copy of each message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientError, LoginError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.clock import Clock
from worker.errors import ConfigError, OutreachError, did_you_mean
from worker.inbound.sources import RawMessage, store
from worker.store.dialect import dialect_insert
from worker.store.models import AppState
from worker.transports.urls import redact_url

log = logging.getLogger(__name__)

SCHEMES = ("imap", "imaps", "imap+starttls")
FETCH_BATCH = 50
DEFAULT_TIMEOUT_S = 30.0
_PORTS = {"imap": 143, "imaps": 993, "imap+starttls": 143}
_OPTIONS = ("cafile", "verify", "timeout", "sent")


class ImapError(OutreachError):
    """Raised when an IMAP inbox cannot be read (unreachable, login refused, missing folder)."""


@dataclass(frozen=True)
class ImapUrl:
    """A parsed IMAP inbox URL; ``text`` keeps the original (with its password)."""

    text: str = field(repr=False)
    scheme: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str
    cafile: str | None = None
    verify: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    sent_folder: str | None = None  # ``?sent=``; else the folder flagged \Sent (RFC 6154)

    @property
    def redacted(self) -> str:
        return redact_url(self.text)

    @property
    def state_key(self) -> str:
        """The ``app_state`` key of this folder's checkpoint (no password in it)."""
        key = f"imap:{self.user}@{self.host}:{self.port}/{self.folder}"
        if len(key) <= 100:
            return key
        return f"{key[:59]}#{hashlib.sha256(key.encode()).hexdigest()[:40]}"

    def source(self, uidvalidity: int, uid: int) -> str:
        """Where a message came from, in the style of RFC 5092 (no password)."""
        return (
            f"imap://{self.user}@{self.host}:{self.port}/{self.folder}"
            f";UIDVALIDITY={uidvalidity}/;UID={uid}"
        )


@dataclass
class ImapFetch:
    """What one read of a folder did."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    uidvalidity: int | None = None
    last_uid: int = 0


def is_imap_url(text: str) -> bool:
    """True for ``imap://``, ``imaps://`` and ``imap+starttls://`` URLs."""
    return text.split("://", 1)[0].lower() in SCHEMES and "://" in text


def parse_imap_url(text: str) -> ImapUrl:
    """Parse an inbox URL; ConfigError (password redacted) when it is incomplete or invalid."""
    shown = redact_url(text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"{shown!r} is not an IMAP URL — use imap://, imaps:// or imap+starttls://."
        )
    if not parts.hostname:
        raise ConfigError(f"{shown!r} has no host — use {scheme}://user:password@host/INBOX.")
    if not parts.username or parts.password is None:
        raise ConfigError(
            f"{shown!r} has no user:password@ — use "
            f"{scheme}://user:password@{parts.hostname}/INBOX (percent-encode '@' and ':' in them)."
        )
    try:
        port = parts.port or _PORTS[scheme]
    except ValueError:
        raise ConfigError(f"{shown!r} has an invalid port.") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise ConfigError(
            f"{shown!r}: unknown option {unknown[0]!r}{did_you_mean(unknown[0], set(_OPTIONS))}"
            " — the options are cafile, verify, timeout and sent."
        )
    try:
        timeout_s = float(query.get("timeout", DEFAULT_TIMEOUT_S))
    except ValueError:
        raise ConfigError(f"{shown!r} has an invalid timeout — use e.g. ?timeout=30.") from None
    return ImapUrl(
        text=text,
        scheme=scheme,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        cafile=query.get("cafile"),
        verify=query.get("verify", "yes").lower() not in ("no", "false", "0"),
        timeout_s=timeout_s,
        sent_folder=query.get("sent") or None,
    )


def probe(text: str) -> str:
    """Log in and open the folder read-only; a line saying how many messages it holds."""
    url = parse_imap_url(text)
    with connect(url) as client:
        _select(client, url)
        count = int(client.folder_status(url.folder, ["MESSAGES"])[b"MESSAGES"])
    return f"IMAP {url.redacted}: {count} message(s) in {url.folder}"


def fetch_imap(
    sessions: sessionmaker[Session], clock: Clock, text: str, result: ImapFetch | None = None
) -> ImapFetch:
    """Store every message of the folder not read before; counts go to ``result`` as they grow."""
    url = parse_imap_url(text)
    result = result if result is not None else ImapFetch()
    with connect(url) as client:
        uidvalidity = _select(client, url)
        result.uidvalidity = uidvalidity
        last_uid = _checkpoint(sessions, url, uidvalidity)
        result.last_uid = last_uid
        uids = _new_uids(client, url, last_uid)
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            fetched = _fetch(client, url, batch)
            for uid in batch:
                data = fetched.get(uid)
                if data is None:
                    continue  # expunged since the search: nothing to store
                raw = RawMessage(url.source(uidvalidity, uid), data)
                with sessions.begin() as session:
                    inbound_id = store(session, raw, clock.now())
                    _save_checkpoint(session, url, uidvalidity, uid)
                result.read += 1
                result.last_uid = uid
                if inbound_id is None:
                    result.duplicates += 1
                else:
                    result.stored += 1
            _save_after(sessions, url, uidvalidity, batch[-1], result)
    if result.read:
        log.info(
            "%s: %d read, %d stored, %d already stored",
            url.redacted,
            result.read,
            result.stored,
            result.duplicates,
        )
    return result


@contextmanager
def connect(url: ImapUrl) -> Iterator[IMAPClient]:
    """A logged-in client; ImapError naming the URL (password redacted) and what to do."""
    shown = url.redacted
    context = _tls_context(url) if url.scheme != "imap" else None
    try:
        client = IMAPClient(
            url.host,
            port=url.port,
            ssl=url.scheme == "imaps",
            ssl_context=context,
            timeout=url.timeout_s,
        )
    except ssl.SSLError as exc:
        raise ImapError(f"{shown}: TLS failed ({exc}){_TLS_HINT}") from None
    except (OSError, IMAPClientError) as exc:
        raise ImapError(
            f"{shown}: IMAP server not reachable ({exc or type(exc).__name__}) — check the host "
            "and port, and that the server is running."
        ) from None
    try:
        _login(client, url)
        yield client
    finally:
        try:
            client.logout()
        except (OSError, IMAPClientError):
            with contextlib.suppress(OSError):
                client.shutdown()


_TLS_HINT = (
    " — check the server's certificate, give its CA with ?cafile=PATH, or use ?verify=false "
    "for a test server."
)


def _tls_context(url: ImapUrl) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=url.cafile)
    except OSError as exc:
        raise ConfigError(f"{url.redacted}: cannot read cafile {url.cafile!r} ({exc}).") from None
    if not url.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _login(client: IMAPClient, url: ImapUrl) -> None:
    shown = url.redacted
    try:
        if url.scheme == "imap+starttls":
            client.starttls(_tls_context(url))
        client.login(url.user, url.password)
    except CapabilityError:
        raise ImapError(
            f"{shown}: the server does not offer STARTTLS — use imaps:// (port 993) instead."
        ) from None
    except ssl.SSLError as exc:
        raise ImapError(f"{shown}: TLS failed ({exc}){_TLS_HINT}") from None
    except LoginError as exc:
        raise ImapError(
            f"{shown}: IMAP login refused for {url.user!r} ({_text(exc)}) — check the user name "
            "and password in the URL."
        ) from None
    except (OSError, IMAPClientError) as exc:
        raise ImapError(f"{shown}: IMAP connection failed ({_text(exc)}) — try again.") from None


def _select(client: IMAPClient, url: ImapUrl) -> int:
    """Examine the folder read-only; its UIDVALIDITY."""
    try:
        response = client.select_folder(url.folder, readonly=True)
    except IMAPClientError as exc:
        try:
            names = {str(name) for _, _, name in client.list_folders()}
        except (OSError, IMAPClientError):
            names = set()
        if names and url.folder not in names:
            raise ImapError(
                f"{url.redacted}: no folder {url.folder!r} on the server"
                f"{did_you_mean(url.folder, names)} — folders: {', '.join(sorted(names))}."
            ) from None
        raise ImapError(
            f"{url.redacted}: cannot open folder {url.folder!r} ({_text(exc)})."
        ) from None
    return int(response[b"UIDVALIDITY"])


def _new_uids(client: IMAPClient, url: ImapUrl, last_uid: int) -> list[int]:
    try:
        found = client.search(["UID", f"{last_uid + 1}:*"])
    except (OSError, IMAPClientError) as exc:
        raise ImapError(f"{url.redacted}: IMAP search failed ({_text(exc)}) — try again.") from None
    # "n:*" always includes the highest UID, even when it is below n.
    return sorted(uid for uid in (int(u) for u in found) if uid > last_uid)


def _fetch(client: IMAPClient, url: ImapUrl, uids: list[int]) -> dict[int, bytes]:
    """Raw bytes per UID; a message the server returns without a body is kept as empty bytes."""
    try:
        response: dict[int, dict[bytes, Any]] = client.fetch(uids, ["BODY.PEEK[]"])
    except (OSError, IMAPClientError) as exc:
        raise ImapError(f"{url.redacted}: IMAP fetch failed ({_text(exc)}) — try again.") from None
    result: dict[int, bytes] = {}
    for uid, items in response.items():
        body = items.get(b"BODY[]")
        result[int(uid)] = bytes(body) if body is not None else b""
    return result


def _checkpoint(sessions: sessionmaker[Session], url: ImapUrl, uidvalidity: int) -> int:
    """The last UID stored for this folder, or 0 when it is new or its UIDVALIDITY changed."""
    with sessions() as session:
        value = session.scalar(select(AppState.value).where(AppState.key == url.state_key))
    if value is None:
        return 0
    try:
        state = json.loads(value)
        stored_validity, last_uid = int(state["uidvalidity"]), int(state["last_uid"])
    except (ValueError, KeyError, TypeError):
        log.warning("%s: unreadable checkpoint %r; reading the folder again", url.redacted, value)
        return 0
    if stored_validity != uidvalidity:
        log.warning(
            "%s: UIDVALIDITY changed (%d → %d); reading the folder again",
            url.redacted,
            stored_validity,
            uidvalidity,
        )
        return 0
    return last_uid


def _save_checkpoint(session: Session, url: ImapUrl, uidvalidity: int, uid: int) -> None:
    value = json.dumps({"uidvalidity": uidvalidity, "last_uid": uid})
    stmt = dialect_insert(session, AppState).values(key=url.state_key, value=value)
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def _save_after(
    sessions: sessionmaker[Session], url: ImapUrl, uidvalidity: int, uid: int, result: ImapFetch
) -> None:
    """Move the checkpoint past UIDs that vanished between search and fetch."""
    if uid > result.last_uid:
        with sessions.begin() as session:
            _save_checkpoint(session, url, uidvalidity, uid)
        result.last_uid = uid


def _text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text or type(exc).__name__


__all__ = [
    "SCHEMES",
    "ImapError",
    "ImapFetch",
    "ImapUrl",
    "connect",
    "fetch_imap",
    "is_imap_url",
    "parse_imap_url",
]
