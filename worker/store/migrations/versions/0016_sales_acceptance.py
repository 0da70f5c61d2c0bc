"""sales acceptance: a lead's owner, one open acceptance item per lead

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07 23:00:00

- ``leads.owner``: the rep who owns the lead (set when a rep accepts it as SQL);
- ``uq_review_open_acceptance``: at most one open ``sales_acceptance`` review item per lead,
  held by the database, so two scorers (or a scorer and a reply) opening one at the same
  time open one (``worker.qualification``).

A plain ``ADD COLUMN``, never a batch: rebuilding ``leads`` on SQLite would drop the report's
triggers on it. ``owner`` is not among the columns those triggers watch.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

OPEN_ACCEPTANCE = "reason = 'sales_acceptance' AND resolved_at IS NULL"


def upgrade() -> None:
    op.add_column("leads", sa.Column("owner", sa.String(length=100), nullable=True))
    op.create_index(
        "uq_review_open_acceptance",
        "review_items",
        ["lead_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_ACCEPTANCE),
        postgresql_where=sa.text(OPEN_ACCEPTANCE),
    )


def downgrade() -> None:
    op.drop_index("uq_review_open_acceptance", table_name="review_items")
    op.execute("ALTER TABLE leads DROP COLUMN owner")
