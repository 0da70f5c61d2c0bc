"""The SQLite engine: WAL with ``synchronous=NORMAL`` unless told ``full``; the threads of one
process take turns to write instead of sleeping in SQLite's busy handler."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.db import driver_write_transaction, make_engine


def _synchronous(tmp_path: Path, env: dict[str, str]) -> tuple[str, int]:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}", **env})
    runtime = Runtime.from_settings(settings)
    try:
        with runtime.engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
            return str(mode), int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    finally:
        runtime.close()


def test_sqlite_runs_in_wal_with_normal_sync_by_default(tmp_path: Path) -> None:
    assert _synchronous(tmp_path, {}) == ("wal", 1)  # 1 = NORMAL


def test_full_sync_is_one_setting_away(tmp_path: Path) -> None:
    assert _synchronous(tmp_path, {"OUTREACH_SQLITE_SYNCHRONOUS": "FULL"}) == ("wal", 2)


def test_an_unknown_level_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ConfigError, match="OUTREACH_SQLITE_SYNCHRONOUS='off' is not one of"):
        Settings.from_env({"OUTREACH_SQLITE_SYNCHRONOUS": "off"})


def _writer_waits_for(tmp_path: Path, end: str) -> tuple[float, list[int]]:
    """One thread holds a write transaction for 0.45 s, then ends it with ``end``; another
    writes meanwhile. Returns how long the second waited after the first ended, and the rows."""
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    ended = threading.Event()
    ended_at: list[float] = []

    def hold() -> None:
        with engine.connect() as conn:
            conn.begin()
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            ended.set()
            time.sleep(0.45)
            if end == "invalidate":
                conn.invalidate()
            else:
                getattr(conn, end)()
            ended_at.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    ended.wait()
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        with driver_write_transaction(engine, raw) as cursor:
            got_in = time.monotonic()
            cursor.execute("INSERT INTO t VALUES (2)")
    holder.join()
    with engine.connect() as conn:
        rows = sorted(n for (n,) in conn.exec_driver_sql("SELECT n FROM t"))
    engine.dispose()
    return got_in - ended_at[0], rows


@pytest.mark.parametrize(
    ("end", "rows"), [("commit", [1, 2]), ("rollback", [2]), ("invalidate", [2])]
)
def test_a_second_writer_goes_on_the_moment_the_first_ends(
    tmp_path: Path, end: str, rows: list[int]
) -> None:
    waited, got = _writer_waits_for(tmp_path, end)
    assert got == rows
    # SQLite's busy handler would retry after sleeps of 1, 2, 5 … 100 ms; the turn is handed
    # over at once (a generous bound for a loaded machine, far below a busy-handler cycle).
    assert -0.01 <= waited < 0.05
