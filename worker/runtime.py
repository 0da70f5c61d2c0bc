"""The Runtime: settings, database, clock, sequences, templates and transports of one process."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from worker.authoring.mailboxes import Mailboxes, load_mailboxes
from worker.authoring.problems import Problem
from worker.authoring.sequences import Catalog, load_catalog
from worker.authoring.templates import TemplateRenderer
from worker.authoring.versions import SequenceVersion, VersionBook
from worker.clock import Clock, clock_from_text
from worker.settings import Settings
from worker.store.db import make_engine, migrate, session_factory
from worker.store.models import SequenceVersion as StoredVersion
from worker.store.prepared import PreparedStatement
from worker.store.tokens import lead_token, load_secret
from worker.transports.base import Transport
from worker.transports.urls import transport_from_url

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything engine code needs, built once per process (engines after fork)."""

    settings: Settings
    clock: Clock
    transport_override: Transport | None = None
    _transports: dict[str, Transport] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        return cls(settings=settings, clock=clock or clock_from_text(settings.now))

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.settings.database_url, self.settings.sqlite_synchronous)
        migrate(engine)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        factory = session_factory(self.engine)
        factory.configure(info={"runtime": self})  # e.g. enrollment reads the mailbox pools
        return factory

    @cached_property
    def _loaded(self) -> tuple[Catalog, list[Problem]]:
        return load_catalog(self.settings.sequences_dir, self.settings.home)

    @property
    def catalog(self) -> Catalog:
        """Valid sequences (invalid files are left out and reported by ``problems``)."""
        return self._loaded[0]

    @property
    def problems(self) -> list[Problem]:
        return self._loaded[1]

    @cached_property
    def renderer(self) -> TemplateRenderer:
        return TemplateRenderer(
            self.settings.templates_dir, default_currency=self.settings.default_currency
        )

    @cached_property
    def versions(self) -> VersionBook:
        """The sequence versions this process knows: the files' own, and old ones read back
        from ``sequence_versions`` (rendered from a private copy of their templates)."""
        return VersionBook(
            self.catalog,
            self.settings.templates_dir,
            lambda: self.renderer,
            self._stored_version,
            make_renderer=lambda folder: TemplateRenderer(
                folder, default_currency=self.settings.default_currency
            ),
            cache_dir=_version_cache(),
            home=self.settings.home,
        )

    def _stored_version(self, version: str) -> SequenceVersion | None:
        """Read a stored version on a connection of its own, straight on the driver: it may
        be needed inside a write transaction (the tick), which on SQLite holds this process's
        write turn that a session's ``BEGIN IMMEDIATE`` would wait for."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                _READ_VERSION.run(cursor, self.engine.dialect, {"v": version})
                row = cursor.fetchone()
            finally:
                cursor.close()
            connection.rollback()
        finally:
            connection.close()
        if row is None:
            return None
        sequence, source, templates, commit = row
        if isinstance(templates, str | bytes):
            templates = json.loads(templates)
        return SequenceVersion(
            name=sequence,
            version=version,
            source=source,
            templates={str(k): str(v) for k, v in templates.items()},
            git_commit=commit,
        )

    @cached_property
    def mailboxes(self) -> Mailboxes:
        return load_mailboxes(self.settings.mailboxes_file)

    @cached_property
    def secret(self) -> bytes:
        return load_secret(self.sessions, self.settings.secret_key)

    def unsubscribe_url(self, lead_id: int) -> str:
        return f"{self.settings.public_url}/u/{lead_token(self.secret, lead_id)}"

    def transport_for(self, mailbox: str) -> Transport:
        """The transport of ``mailbox`` (its own URL from the environment, else the default)."""
        if self.transport_override is not None:
            return self.transport_override
        url = self.mailboxes.transport_url(
            mailbox, self.settings.transport_url, self.settings.environ
        )
        with self._lock:
            transport = self._transports.get(url)
            if transport is None:
                transport = transport_from_url(url, timeout_s=self.settings.smtp_timeout_s)
                self._transports[url] = transport
            return transport

    def close(self) -> None:
        """Close transports and database connections."""
        with self._lock:
            transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            transport.close()
        if self.transport_override is not None:
            self.transport_override.close()
        if "engine" in self.__dict__:
            self.engine.dispose()


_READ_VERSION = PreparedStatement(
    select(
        StoredVersion.sequence,
        StoredVersion.source,
        StoredVersion.templates,
        StoredVersion.git_commit,
    ).where(StoredVersion.version == bindparam("v"))
)


def _version_cache() -> Path:
    """A folder of this user's only, for the templates of old sequence versions."""
    folder = Path(tempfile.gettempdir()) / f"outreach-versions-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_uid == os.getuid() and not folder.is_symlink():
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="outreach-versions-"))


_current: Runtime | None = None
_current_pid: int | None = None
_current_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime; built from the environment on first use (e.g. in a worker)."""
    global _current, _current_pid  # noqa: PLW0603 (one runtime per process)
    with _current_lock:
        if _current is None or _current_pid != os.getpid():
            _current = Runtime.from_settings(Settings.from_env())
            _current_pid = os.getpid()
        return _current


def set_runtime(runtime: Runtime | None) -> None:
    """Install ``runtime`` for this process (embedded runs, simulations, tests)."""
    global _current, _current_pid  # noqa: PLW0603 (one runtime per process)
    with _current_lock:
        _current = runtime
        _current_pid = os.getpid() if runtime is not None else None
