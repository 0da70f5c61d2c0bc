"""Engines, sessions and schema migrations (Alembic), for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 7_314_159_265


def make_engine(url: str, sqlite_synchronous: str = "normal") -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and write-locking transactions.

    ``sqlite_synchronous``: ``normal`` makes each commit durable against any crash of the
    process (the WAL is written before the commit returns, and fsynced at checkpoints);
    ``full`` fsyncs the WAL at every commit, so a power loss or an operating-system crash
    loses no commit either (docs/operations.md § Durability).
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(
            f"DATABASE_URL {url!r} is not a database URL — use e.g. "
            "sqlite:///outreach.db or postgresql://user@host/db."
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    if synchronous.upper() not in ("NORMAL", "FULL"):
        raise ConfigError(f"SQLite synchronous level {synchronous!r}: use normal or full.")
    pragma = f"PRAGMA synchronous={synchronous.upper()}"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(pragma)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    turns = WriteTurns()
    _TURNS[engine] = turns

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction
        # never fails half-way with "database is locked".
        driver = conn.connection.dbapi_connection
        turns.take(driver)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.give_back(driver)
            raise

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(connection: Any) -> None:
        try:
            commit(connection)
        finally:
            turns.give_back(_driver(connection))

    def do_rollback(connection: Any) -> None:  # also the pool's reset on return
        try:
            rollback(connection)
        finally:
            turns.give_back(_driver(connection))

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]

    for lost in ("close", "detach", "invalidate", "soft_invalidate"):
        event.listen(engine, lost, lambda driver, *_: turns.give_back(driver))


def _driver(connection: Any) -> Any:
    return getattr(connection, "dbapi_connection", connection)


class WriteTurns:
    """One SQLite write transaction at a time in this process, queued on a lock.

    SQLite lets one connection write at a time; another's ``BEGIN IMMEDIATE`` waits in
    SQLite's busy handler, which sleeps 1, 2, 5, 10 … ms between tries. The threads of one
    process queue on a lock instead and go on the moment the writer ends. Other processes
    (a cron run beside the web app) still wait in the busy handler.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None

    def take(self, driver: Any) -> None:
        """Wait for this process's turn to write on ``driver`` (a DBAPI connection)."""
        if self._lock.acquire(timeout=_TURN_WAIT_S):
            self._holder = driver
        # else: a thread holds a turn for far too long; SQLite's own waiting takes over.

    def give_back(self, driver: Any) -> None:
        """End ``driver``'s turn, if it has one (commit, rollback, or connection lost)."""
        if self._holder is not None and self._holder is driver:
            self._holder = None
            self._lock.release()


_TURN_WAIT_S = 60
_TURNS: weakref.WeakKeyDictionary[Engine, WriteTurns] = weakref.WeakKeyDictionary()


@contextmanager
def driver_write_transaction(engine: Engine, driver: Any) -> Iterator[Any]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` straight on a SQLite DBAPI connection (the send
    path's one statement per message), in this process's write turn; yields a cursor."""
    turns = _TURNS.get(engine)
    if turns is not None:
        turns.take(driver)
    cursor = driver.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
    finally:
        cursor.close()
        if turns is not None:
            turns.give_back(driver)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current == head


@dataclass(frozen=True)
class Revision:
    """One migration: its id, what it does, and whether this database has it."""

    revision: str
    description: str
    applied: bool


def revisions(engine: Engine) -> tuple[str | None, list[Revision]]:
    """This database's current revision and every migration, oldest first (nothing is
    changed: a database that is behind stays behind)."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    applied = set()
    if current is not None:
        applied = {r.revision for r in script.walk_revisions("base", current)}
    ordered = list(reversed(list(script.walk_revisions())))
    return current, [
        Revision(r.revision, (r.doc or "").strip(), r.revision in applied) for r in ordered
    ]


def migrate(engine: Engine) -> None:
    """Bring the schema up to date; safe when several processes start at once."""
    with _migration_lock(engine):
        if schema_is_current(engine):
            return
        cfg = alembic_config(engine)
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # a migration that rebuilds a table must not fire ON DELETE actions
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                if sqlite:
                    conn.rollback()
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
        log.info("database schema upgraded to the newest revision")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database + ".migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
