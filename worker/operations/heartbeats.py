"""Process heartbeats: which scheduler, worker and cron run is alive, and which one stopped.

A process that claims touches (or keeps them in its in-process queue) first registers a row in
``heartbeats`` and then updates its ``beat_at`` every ``OUTREACH_HEARTBEAT_S`` seconds from a
daemon thread. A holder is **dead** when its row is gone, older than
``OUTREACH_HEARTBEAT_TIMEOUT_S``, or on this host with a process id that no longer exists; the
touches it held are then recovered by the next tick without waiting for the delivery lease.

Times here are wall-clock (``datetime.now(UTC)``), whatever clock a run uses for scheduling.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.models import Heartbeat

log = logging.getLogger(__name__)

HOST = socket.gethostname()[:255]


def wall_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Registration:
    """This process's heartbeat: its holder id, its roles and the thread that beats."""

    holder: str
    pid: int
    runtime: Runtime
    consumer: str | None = None
    roles: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class _Process:
    """This process's registration (one per process; a fork starts without one)."""

    current: _Registration | None = None


_lock = threading.Lock()


def current_holder() -> str | None:
    """This process's holder id while it has a heartbeat, else None (claims then rely on the
    delivery lease alone)."""
    registration = _Process.current
    if registration is None or registration.pid != os.getpid():  # inherited over a fork
        return None
    return registration.holder


def queue_holder(settings: Settings) -> str | None:
    """Who holds what this process enqueues: itself with the in-process queue (lost if it
    dies), nobody with Redis (the queue outlives the process)."""
    return None if settings.uses_redis else current_holder()


def start(runtime: Runtime, role: str, consumer: str | None = None) -> str:
    """Register this process under ``role`` (written before anything is claimed) and beat;
    ``consumer``: its dramatiq Redis consumer id, when it fetches from Redis."""
    with _lock:
        registration = _Process.current
        if registration is None or registration.pid != os.getpid():
            pid = os.getpid()
            holder = f"{HOST[:80]}:{pid}:{uuid.uuid4().hex[:8]}"
            registration = _Registration(holder=holder, pid=pid, runtime=runtime, consumer=consumer)
            _Process.current = registration
            _write(registration, [role], insert=True)
            registration.roles.append(role)
            _forget_replaced(runtime, role, holder)
            registration.thread = threading.Thread(
                target=_beat, args=(registration,), name="outreach-heartbeat", daemon=True
            )
            registration.thread.start()
            log.info("heartbeat %s started (%s)", holder, role, extra={"holder": holder})
        else:  # one entry per start, so overlapping users of a role each keep it alive
            registration.roles.append(role)
            registration.consumer = registration.consumer or consumer
            _write(registration, registration.roles, insert=False)
        return registration.holder


def stop(role: str) -> None:
    """Drop ``role``; the last one stops the beat and deletes the row (a clean exit)."""
    with _lock:
        registration = _Process.current
        if registration is None or registration.pid != os.getpid():
            return
        if role in registration.roles:
            registration.roles.remove(role)
        if registration.roles:
            _write(registration, registration.roles, insert=False)
            return
        _Process.current = None
    registration.stop.set()
    if registration.thread is not None:
        registration.thread.join(timeout=5)
    try:
        with registration.runtime.sessions.begin() as session:
            session.execute(delete(Heartbeat).where(Heartbeat.holder == registration.holder))
    except SQLAlchemyError as exc:
        log.warning("heartbeat %s not removed: %s", registration.holder, exc)


@contextmanager
def beating(runtime: Runtime, role: str) -> Iterator[str]:
    """Keep a heartbeat under ``role`` for the duration of the block."""
    holder = start(runtime, role)
    try:
        yield holder
    finally:
        stop(role)


def _write(registration: _Registration, roles: list[str], *, insert: bool) -> None:
    now = wall_now()
    with registration.runtime.sessions.begin() as session:
        row = session.get(Heartbeat, registration.holder)
        if row is None:
            if not insert:
                log.warning("heartbeat %s was removed; writing it again", registration.holder)
            session.add(
                Heartbeat(
                    holder=registration.holder,
                    roles=_joined(roles),
                    host=HOST,
                    pid=registration.pid,
                    started_at=now,
                    beat_at=now,
                    consumer=registration.consumer,
                )
            )
        else:
            row.roles, row.beat_at = _joined(roles), now


def _joined(roles: list[str]) -> str:
    return ",".join(sorted(set(roles)))[:100]


def _beat(registration: _Registration) -> None:
    every = max(0.2, registration.runtime.settings.heartbeat_s)
    while not registration.stop.wait(every):
        try:
            with registration.runtime.sessions.begin() as session:
                done = session.execute(
                    update(Heartbeat)
                    .where(Heartbeat.holder == registration.holder)
                    .values(beat_at=wall_now())
                )
            if done.rowcount == 0:  # type: ignore[attr-defined]
                _write(registration, list(registration.roles), insert=False)
        except Exception as exc:  # keep beating: a database blip must not stop the process
            log.warning("heartbeat %s not written: %s", registration.holder, exc)


def _pid_gone(pid: int) -> bool:
    """No such process on this host, or only its zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except OSError:  # no /proc (not Linux): the beat's age decides
        return False


def is_alive(row: Heartbeat, settings: Settings, now: datetime | None = None) -> bool:
    """Fresh beat, and (on this host) a process that still exists."""
    now = now or wall_now()
    if row.beat_at < now - timedelta(seconds=settings.heartbeat_timeout_s):
        return False
    return not (row.host == HOST and _pid_gone(row.pid))


def dead_among(session: Session, settings: Settings, holders: Iterable[str]) -> set[str]:
    """Which of ``holders`` are not alive (no row, a stale one, or a vanished process)."""
    wanted = set(holders)
    if not wanted:
        return set()
    rows = session.scalars(select(Heartbeat).where(Heartbeat.holder.in_(wanted)))
    now = wall_now()
    alive = {row.holder for row in rows if is_alive(row, settings, now)}
    return wanted - alive


def _registered(session: Session, settings: Settings, alive: bool) -> list[Heartbeat]:
    now = wall_now()
    rows = session.scalars(select(Heartbeat).order_by(Heartbeat.started_at))
    return [row for row in rows if is_alive(row, settings, now) == alive]


def stale(session: Session, settings: Settings) -> list[Heartbeat]:
    """Registered processes that stopped beating (what ``/healthz`` reports as failing)."""
    return _registered(session, settings, alive=False)


def live(session: Session, settings: Settings) -> list[Heartbeat]:
    """Registered processes that are beating."""
    return _registered(session, settings, alive=True)


def dead_consumers(session: Session, settings: Settings) -> list[str]:
    """Redis consumer ids of worker processes known dead (their fetched messages are stuck)."""
    return [row.consumer for row in stale(session, settings) if row.consumer]


def describe(row: Heartbeat, now: datetime | None = None) -> str:
    """``worker vm:4242:1a2b3c4d (pid 4242 on vm): last beat 95 s ago``."""
    age = ((now or wall_now()) - row.beat_at).total_seconds()
    return f"{row.roles} {row.holder} (pid {row.pid} on {row.host}): last beat {age:.0f} s ago"


def health_problems(session: Session, settings: Settings) -> list[str]:
    """One line per registered process that stopped beating (empty when all are alive)."""
    now = wall_now()
    return [
        f"{describe(row, now)} — it stopped without saying so; restart it (its touches are "
        "recovered by the next tick)"
        for row in stale(session, settings)
    ]


def forget(session: Session, settings: Settings) -> int:
    """Delete rows stale for longer than ``OUTREACH_HEARTBEAT_FORGET_S``: until then a stopped
    process shows as failing in ``/healthz`` (its touches are recovered either way)."""
    cutoff = wall_now() - timedelta(seconds=settings.heartbeat_forget_s)
    result = session.execute(delete(Heartbeat).where(Heartbeat.beat_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _forget_replaced(runtime: Runtime, role: str, holder: str) -> None:
    """A process starting in ``role`` replaces the dead ones of that role on this host (a
    restart): their rows go, so health reports the new process, not the old one."""
    try:
        with runtime.sessions.begin() as session:
            replaced = [
                row.holder
                for row in session.scalars(select(Heartbeat).where(Heartbeat.host == HOST))
                if row.holder != holder and role in row.roles.split(",") and _pid_gone(row.pid)
            ]
            if replaced:
                session.execute(delete(Heartbeat).where(Heartbeat.holder.in_(replaced)))
    except SQLAlchemyError as exc:
        log.warning("heartbeats of stopped processes not removed: %s", exc)


__all__ = [
    "HOST",
    "beating",
    "current_holder",
    "dead_among",
    "dead_consumers",
    "describe",
    "forget",
    "health_problems",
    "is_alive",
    "live",
    "queue_holder",
    "stale",
    "start",
    "stop",
    "wall_now",
]
