"""Helpers for the delivery tests: a scriptable SMTP sink, runtimes, worker subprocesses.

The sink is a real aiosmtpd server on loopback. Besides recording what it accepted it can
count connections (one aiosmtpd session per connection), answer RCPT/DATA with scripted
replies, ask for a login, slow down, stall on DATA (to catch a sender mid-flight) or drop
the connection after the message content arrived (the "did it go out?" case).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from worker.clock import Clock, iso
from worker.leads.importing import import_leads
from worker.processes.batch import stop_embedded_workers
from worker.runtime import Runtime, set_runtime
from worker.settings import Settings
from worker.store.models import Touch

BIN = Path(sys.executable).parent
OUTREACH = str(BIN / "outreach")
FINAL = ("sent", "skipped", "failed", "unknown")


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (also: a port that refuses)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the SMTP sink -----------------------------------------------------------------------


@dataclass
class Sink:
    """What the scriptable SMTP server saw and how it should behave."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    data_seen: list[str] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    drop_after_data: set[str] = field(default_factory=set)
    stall_data: bool = False
    data_delay_s: float = 0.0
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The transport URL (with the login when the sink asks for one)."""
        if self.username:
            return f"smtp://{self.username}:{self.password}@{self.host}:{self.port}"
        return f"smtp://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections that got as far as MAIL FROM (one aiosmtpd session each)."""
        with self.lock:
            return len(self.sessions)

    def recipients(self) -> list[str]:
        """Every accepted recipient, once per accepted message."""
        with self.lock:
            return [rcpt for _, rcpts in self.envelopes for rcpt in rcpts]

    def counts(self) -> Counter[str]:
        return Counter(self.recipients())

    def message_to(self, address: str) -> Message:
        with self.lock:
            pairs = zip(self.envelopes, self.messages, strict=True)
            found = [m for (_, rcpts), m in pairs if address in (r.lower() for r in rcpts)]
        assert len(found) == 1, f"{len(found)} messages to {address}"
        return found[0]


class _SinkHandler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.sink.lock:
            if not any(s is session for s in self.sink.sessions):
                self.sink.sessions.append(session)
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
        sink = self.sink
        rcpts = [r.lower() for r in envelope.rcpt_tos]
        with sink.lock:
            sink.data_seen.extend(rcpts)
        if sink.stall_data:
            sink.stalled.set()
            while not sink.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 released at shutdown"
        if sink.drop_after_data & set(rcpts):
            server.transport.abort()  # content received, no reply: "did it go out?"
            return "250 never seen"
        if sink.data_delay_s:
            await asyncio.sleep(sink.data_delay_s)
        if sink.data_reply:
            return sink.data_reply
        with sink.lock:
            sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@contextmanager
def running_sink(
    username: str | None = None, password: str | None = None, idle_timeout_s: float = 300
) -> Iterator[Sink]:
    """Start a sink on a free loopback port; stop it (releasing stalled sessions) afterwards.

    With ``username``/``password`` it asks for a login; ``idle_timeout_s`` closes idle
    connections like a real server does.
    """
    sink = Sink(host="127.0.0.1", port=free_port(), username=username, password=password)
    options: dict[str, Any] = {"timeout": idle_timeout_s}
    if username is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == username
                and data.password.decode() == password
            )
            if ok:
                with sink.lock:
                    sink.logins.append(username)
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticate, auth_require_tls=False)
    controller = Controller(_SinkHandler(sink), hostname=sink.host, port=sink.port, **options)
    controller.start()
    try:
        yield sink
    finally:
        sink.release.set()
        controller.stop()


# --- runtimes ----------------------------------------------------------------------------

MakeRuntime = Callable[..., Runtime]


@contextmanager
def runtime_maker(
    project: Path, clock: Clock, settings: Callable[..., Settings]
) -> Iterator[MakeRuntime]:
    """Build runtimes on ``project`` and ``clock`` with the sample leads imported; close them.

    ``settings`` is conftest's ``make_settings``; the factory takes a database URL and
    settings changes (one send thread unless asked: one SMTP connection to count).
    """
    made: list[Runtime] = []

    def make(database_url: str, *, leads: bool = True, **changes: Any) -> Runtime:
        changes.setdefault("send_threads", 1)
        runtime = Runtime.from_settings(settings(project, database_url, **changes), clock)
        set_runtime(runtime)
        made.append(runtime)
        if leads:
            assert import_file(runtime, project / "examples" / "leads.csv") == 25
        return runtime

    try:
        yield make
    finally:
        stop_embedded_workers()
        for runtime in made:
            runtime.close()
        set_runtime(None)


# --- data --------------------------------------------------------------------------------


def sample_emails(project: Path) -> list[str]:
    """The 25 sample leads' addresses, in file order."""
    with (project / "examples" / "leads.csv").open(newline="", encoding="utf-8") as handle:
        return [row["email"].strip().lower() for row in csv.DictReader(handle)]


def write_renamed_leads(project: Path, target: Path, prefix: str) -> list[str]:
    """A copy of the sample leads with ``prefix`` in front of every address."""
    with (project / "examples" / "leads.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        row["email"] = prefix + row["email"]
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return [row["email"].lower() for row in rows]


def import_file(runtime: Runtime, path: Path) -> int:
    """Import leads from ``path``; return how many were enrolled."""
    report = import_leads(runtime.sessions, path, runtime.clock, runtime.catalog)
    assert not report.errors, report.errors
    return report.enrollment.enrolled


def touches(runtime: Runtime) -> list[Touch]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Touch).order_by(Touch.id)))


def statuses(runtime: Runtime) -> Counter[str]:
    return Counter(t.status for t in touches(runtime))


@contextmanager
def redis_workers_setup(
    project: Path,
    database_url: str,
    namespace: str,
    sink: Sink,
    clock: Clock,
    settings: Callable[..., Settings],
    now: datetime,
    redis_url: str,
    **changes: Any,
) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """A migrated runtime on Redis (namespace ``namespace``) for this test process, with the
    Redis broker installed to enqueue, and the environment for worker subprocesses."""
    from worker.broker import build_broker, install

    made = settings(
        project,
        database_url,
        redis_url=redis_url,
        transport_url=sink.url,
        redis_namespace=namespace,
        **changes,
    )
    runtime = Runtime.from_settings(made, clock)
    runtime.engine  # noqa: B018  (migrate before the workers start)
    broker = install(build_broker(redis_url, namespace))
    env = process_env(
        project,
        database_url,
        sink.url,
        now,
        REDIS_URL=redis_url,
        OUTREACH_REDIS_NAMESPACE=namespace,
    )
    try:
        yield runtime, env
    finally:
        install(build_broker(None))
        broker.close()
        runtime.close()


def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.1
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(every_s)


# --- subprocesses ------------------------------------------------------------------------


def process_env(
    project: Path,
    database_url: str,
    transport_url: str,
    now: datetime,
    **extra: str,
) -> dict[str, str]:
    """Environment for an ``outreach``/``dramatiq`` subprocess (no Redis unless given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "REDIS_URL"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "OUTREACH_HOME": str(project),
            "OUTREACH_TRANSPORT_URL": transport_url,
            "OUTREACH_NOW": iso(now) or "",
            "OUTREACH_SECRET_KEY": "test-secret",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def start(
    args: list[str], env: dict[str, str], cwd: Path, log: Path | None = None
) -> subprocess.Popen[str]:
    """Start a subprocess in its own process group; output captured, or appended to ``log``."""
    if log is None:
        return subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    with log.open("a") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def finish(proc: subprocess.Popen[str], timeout_s: float) -> tuple[int, str, str]:
    """Wait for ``proc`` (killing its group on timeout); return (code, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(proc, grace_s=0)
        out, err = proc.communicate(timeout=10)
        raise AssertionError(
            f"{proc.args!r} did not finish in {timeout_s}s\nstdout:\n{out}\nstderr:\n{err}"
        ) from None
    return proc.returncode, out, err


def stop(proc: subprocess.Popen[str], grace_s: float = 20.0) -> int | None:
    """SIGTERM the process we started, then SIGKILL its group if it lingers; return the code.

    The group is signalled only while its leader is unreaped, so the group id is still ours.
    """
    if proc.poll() is None and grace_s > 0:
        proc.terminate()  # the leader only: a dramatiq master forwards it to its workers
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    return proc.returncode


def stop_all(procs: list[subprocess.Popen[str]], grace_s: float = 20.0) -> list[int | None]:
    """SIGTERM every process first, then wait for (or kill) each; return their exit codes."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in procs:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    return [stop(proc, grace_s=0) for proc in procs]  # kills only what still lingers


_LAUNCH = """
import sys, time
from pathlib import Path
import alembic.command, worker.cli, worker.store.db, worker.processes.batch  # imports first
Path(sys.argv[1] + ".ready").touch()
deadline = time.monotonic() + 30
while not Path(sys.argv[1]).exists() and time.monotonic() < deadline:
    time.sleep(0.001)
sys.argv = ["outreach", *sys.argv[2:]]
worker.cli.main()
"""


def start_together(
    args: list[str], copies: int, env: dict[str, str], cwd: Path, go: Path
) -> list[subprocess.Popen[str]]:
    """Start ``copies`` of ``outreach ARGS`` that begin work within a millisecond of each other.

    Each process does its (slow, jittery) imports first, reports ready and waits for the
    ``go`` file; then it runs the real ``outreach`` entry point with ``ARGS``.
    """
    procs = [
        start([sys.executable, "-c", _LAUNCH, f"{go}.{n}", *args], env, cwd) for n in range(copies)
    ]
    ready = [Path(f"{go}.{n}.ready") for n in range(copies)]
    try:
        wait_until(lambda: all(r.exists() for r in ready), 30, "the processes to be ready", 0.01)
    except AssertionError:
        for proc in procs:
            stop(proc, grace_s=0)
        raise
    for n in range(copies):
        Path(f"{go}.{n}").touch()
    return procs


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout_s: float = 60.0
) -> tuple[int, str, str]:
    """Run ``outreach ARGS`` to completion (bounded)."""
    proc = start([OUTREACH, *args], env, cwd)
    try:
        return finish(proc, timeout_s)
    finally:
        stop(proc, grace_s=0)


def cli_json(args: list[str], env: dict[str, str], cwd: Path, timeout_s: float = 60.0) -> Any:
    """Run ``outreach ARGS --json``; fail with its output unless it exits 0."""
    code, out, err = run_cli([*args, "--json"], env, cwd, timeout_s)
    assert code == 0, f"outreach {' '.join(args)} exited {code}\n{out}\n{err}"
    return json.loads(out)
