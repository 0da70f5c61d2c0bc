"""Migrations upgrade a database that already holds data, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import text

from tests.cli_support import reset_cli_runtime
from worker.cli import main
from worker.store.db import alembic_config, make_engine, migrate, schema_is_current
from worker.store.models import Base


def test_upgrading_from_the_first_revision_keeps_existing_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        cfg = alembic_config(engine)
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
            conn.commit()
        now = datetime(2027, 1, 4, 9, tzinfo=UTC).replace(tzinfo=None)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO leads (id, email, stage, status, fields, created_at, updated_at)"
                    " VALUES (1, 'ada@northwind.test', 'prospecting', 'needs_review', '{}', :t, :t)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO review_items (lead_id, reason, priority, created_at)"
                    " VALUES (1, 'delivery_unknown', 0, :t)"
                ),
                {"t": now},
            )
        assert not schema_is_current(engine)

        migrate(engine)

        assert schema_is_current(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT lead_id, reason, inbound_id FROM review_items")).all()
        assert [tuple(r) for r in rows] == [(1, "delivery_unknown", None)]
    finally:
        engine.dispose()


def test_db_current_and_history_say_what_is_pending_without_changing_it(
    database_url: str, tmp_path: Path
) -> None:
    def outreach(*args: str) -> Result:
        env = {"DATABASE_URL": database_url, "REDIS_URL": None, "OUTREACH_HOME": str(tmp_path)}
        try:
            return CliRunner().invoke(main, list(args), env=env)
        finally:
            reset_cli_runtime()

    before = outreach("db", "current", "--json")
    assert before.exit_code == 1
    state = json.loads(before.stdout)
    assert state["current"] is None
    assert state["pending"][0] == "0001"
    assert state["pending"][-1] == state["head"]
    assert outreach("db", "current").exit_code == 1  # still nothing applied: it only looks
    assert " pending " in outreach("db", "history").stdout

    assert outreach("db", "upgrade").exit_code == 0
    after = outreach("db", "current")
    assert after.exit_code == 0
    assert "(the newest)" in after.stdout
    assert " pending " not in outreach("db", "history").stdout


def _described(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    """Leave out the substring-search indexes of PostgreSQL (pg_trgm, made by migration 0008
    when the server has the extension; the models cannot say 'only there')."""
    return not (type_ == "index" and name is not None and name.endswith("_trgm"))


# SQLite's reflection cannot read an index on an expression (ix_leads_email_domain, migration
# 0009): SQLAlchemy and alembic say so and skip it there; PostgreSQL compares it.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_the_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _described}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_colleagues_are_found_through_the_domain_index(database_url: str) -> None:
    """Migration 0009's index serves the colleagues query (no scan of every lead), and goes
    away again on downgrade."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        domain = "substr(email, length(rtrim(email, replace(email, '@', ''))) + 1)"
        query = f"SELECT id FROM leads WHERE {domain} = 'c1.example.test'"
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                plan = " ".join(
                    str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))
                )
            else:
                conn.execute(text("SET LOCAL enable_seqscan = off"))
                plan = " ".join(str(row[0]) for row in conn.execute(text(f"EXPLAIN {query}")))
        assert "ix_leads_email_domain" in plan
        cfg = alembic_config(engine)
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
            conn.commit()
        with engine.connect() as conn:
            names = {
                name
                for (name,) in conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'index'")
                    if engine.dialect.name == "sqlite"
                    else text(
                        "SELECT indexname FROM pg_indexes"
                        " WHERE tablename = 'leads' AND schemaname = current_schema()"
                    )
                )
            }
        assert "ix_leads_email_domain" not in names
        migrate(engine)
    finally:
        engine.dispose()
