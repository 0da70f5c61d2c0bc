"""qualification report: partial indexes for its medians, its MQL join and its score deciles

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 23:50:00

The qualification sections of the report (``worker.analytics.qualification``) read, at a
million leads, only a small part of them: the MQLs (median days to MQL, MQLs per sequence),
the SQLs (median days to SQL) and the decided leads in score order (win rate per decile).
Without these each read the whole ``leads`` table:

- ``ix_leads_mql``: (mql_at, created_at, sql_at, id) of the leads that became MQLs;
- ``ix_leads_sql``: (sql_at, created_at) of the leads accepted as SQL;
- ``ix_leads_decided_score``: (score, id, stage) of the won and lost leads with a score, in
  the order the deciles are cut.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

MQL = sa.text("mql_at IS NOT NULL")
SQL = sa.text("sql_at IS NOT NULL")
DECIDED = sa.text("stage IN ('won', 'lost') AND score IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_leads_mql",
        "leads",
        ["mql_at", "created_at", "sql_at", "id"],
        postgresql_where=MQL,
        sqlite_where=MQL,
    )
    op.create_index(
        "ix_leads_sql", "leads", ["sql_at", "created_at"], postgresql_where=SQL, sqlite_where=SQL
    )
    op.create_index(
        "ix_leads_decided_score",
        "leads",
        ["score", "id", "stage"],
        postgresql_where=DECIDED,
        sqlite_where=DECIDED,
    )


def downgrade() -> None:
    op.drop_index("ix_leads_decided_score", table_name="leads")
    op.drop_index("ix_leads_sql", table_name="leads")
    op.drop_index("ix_leads_mql", table_name="leads")
