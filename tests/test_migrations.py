"""Migrations upgrade a database that already holds data, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from worker.store.db import alembic_config, make_engine, migrate, schema_is_current


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
