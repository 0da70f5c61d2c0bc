"""Shared fixtures: a project folder, SQLite and PostgreSQL databases, a virtual clock,
an in-process SMTP server (aiosmtpd), Redis, and fresh dramatiq brokers.

Real services are required: when PostgreSQL or Redis cannot be reached the tests fail
(the test command, ``make test``, starts them).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from tests.imap_support import imap  # noqa: F401 (a fixture for every test module)
from worker.broker import build_broker, install
from worker.clock import VirtualClock
from worker.processes.batch import stop_embedded_workers
from worker.runtime import Runtime, set_runtime
from worker.settings import Settings

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # a Monday


def copy_project(target: Path, *, send_windows: bool = False) -> Path:
    """A project folder with the repository's sequences, templates, mailboxes and examples.

    The example sequences send in business hours (``schedule:``, schedules.yaml); unless
    ``send_windows`` is asked for, the copy has neither, so tests send at any hour as before
    (their clock starts at 09:00 UTC, before business hours in America).
    """
    for name in ("sequences", "templates", "examples"):
        shutil.copytree(REPO / name, target / name)
    shutil.copy(REPO / "mailboxes.yaml", target / "mailboxes.yaml")
    if send_windows:
        shutil.copy(REPO / "schedules.yaml", target / "schedules.yaml")
    else:
        for path in (target / "sequences").glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(r"(?m)^schedule:.*\n", "", text), encoding="utf-8")
    return target


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


# --- databases -------------------------------------------------------------------------


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a DATABASE_URL whose search_path is that schema."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc}); run 'make services'")
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every engine test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outreach.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'outreach.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


# --- clock, settings, runtime, broker --------------------------------------------------


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


def make_settings(home: Path, database_url: str, **changes: Any) -> Settings:
    """Settings for a test project: outbox in the project, no Redis unless asked."""
    base = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "OUTREACH_TRANSPORT_URL": f"file://{home / 'outbox'}",
            "OUTREACH_SECRET_KEY": "test-secret",
            "OUTREACH_SEND_THREADS": "4",
        },
        home=home,
    )
    return base.with_changes(**changes) if changes else base


@pytest.fixture
def settings(project: Path, database_url: str) -> Settings:
    return make_settings(project, database_url)


@pytest.fixture
def stub_broker() -> Iterator[Any]:
    """A fresh in-process broker for each test; workers stopped afterwards."""
    broker = install(build_broker(None))
    yield broker
    stop_embedded_workers()
    broker.flush_all()


@pytest.fixture
def runtime(settings: Settings, clock: VirtualClock, stub_broker: Any) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings, clock)
    set_runtime(rt)
    yield rt
    stop_embedded_workers()
    rt.close()
    set_runtime(None)


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A unique dramatiq namespace on the test Redis database, deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); run 'make services'")
    namespace = f"outreach-test-{uuid.uuid4().hex[:8]}"
    yield namespace
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)
    client.close()


# --- SMTP ------------------------------------------------------------------------------


@dataclass
class SmtpSink:
    """A real SMTP server on loopback that records what it accepted.

    ``replies`` maps a recipient address to an SMTP reply for its RCPT (e.g. "550 5.1.1 no
    such user", "451 4.3.0 try later"); ``data_reply`` answers every DATA.
    """

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    mail_reply: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for _, rcpts in self.envelopes for rcpt in rcpts]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.sink.mail_reply:
            return self.sink.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        reply = self.sink.replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.data_reply:
            return self.sink.data_reply
        with self.sink.lock:
            self.sink.messages.append(message_from_bytes(envelope.content))
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()
