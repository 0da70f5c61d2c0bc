"""The SQLite durability level: WAL with ``synchronous=NORMAL`` unless told ``full``."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.runtime import Runtime
from worker.settings import Settings


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
