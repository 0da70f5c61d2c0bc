"""tick plans: the tick's per-sequence version checks stay index scans at a million leads

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 22:00:00

Every tick looks, per sequence, for enrollments not pinned to a version yet
(``seen_version IS NULL``) and for enrollments held against another version than the files'
(``worker.delivery.sequence_changes``). At a million enrollments PostgreSQL read the whole
table for each, 0.16 to 0.4 s per sequence and tick:

- the unpinned rows: with statistics from before an upgrade pinned every enrollment, it still
  expected a third of the table. A partial index holds only the unpinned rows, so the plan is
  an index scan whatever the statistics say (SQLite and PostgreSQL);
- the rows of another version: each sequence's enrollments share one version, but the
  planner multiplied the two columns' selectivities, expected a quarter of the table and
  walked the primary key in id order. Multi-column MCV statistics on (sequence,
  seen_version) give it the pairs that exist (PostgreSQL; kept by ANALYZE and autovacuum).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNPINNED = sa.text("seen_version IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_enrollments_unpinned",
        "enrollments",
        ["sequence"],
        postgresql_where=UNPINNED,
        sqlite_where=UNPINNED,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE STATISTICS enrollments_sequence_versions (mcv) "
            "ON sequence, seen_version FROM enrollments"
        )
        op.execute("ANALYZE enrollments")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS enrollments_sequence_versions")
    op.drop_index("ix_enrollments_unpinned", table_name="enrollments")
