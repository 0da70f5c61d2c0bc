"""lead scoring: a lead's score and qualification, rescoring marks, threshold crossings, clicks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 22:30:00

- ``leads``: ``score`` (None: never scored), ``scored_at``, ``score_detail`` (each rule that
  contributed, with points and age), ``qualification`` (mql, sql, nurture), ``mql_at``,
  ``sql_at``; ``ix_leads_score`` orders leads by score;
- ``score_marks``: leads to score again because an event arrived (``worker.scoring``);
- ``score_crossings``: one row per (lead, threshold) crossed, so concurrent scorers cross it
  once;
- ``clicks``: every request to a tracked link, counted as interest or not, and why.

The new lead columns are not among those the report trigger (0008, 0012) watches, so scoring
a lead marks nothing for the report.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
LEAD_COLUMNS = ("score", "scored_at", "score_detail", "qualification", "mql_at", "sql_at")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("leads", sa.Column("score", sa.Double(), nullable=True))
    op.add_column("leads", sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("score_detail", JSON, nullable=True))
    op.add_column("leads", sa.Column("qualification", sa.String(length=16), nullable=True))
    op.add_column("leads", sa.Column("mql_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("sql_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_leads_qualification", "leads", ["qualification"])
    # SQLite sorts NULL first, so last when descending, and takes no NULLS LAST in an index.
    score = "score DESC NULLS LAST" if postgres else "score DESC"
    op.create_index("ix_leads_score", "leads", [sa.text(score), "id"])
    op.create_table(
        "score_marks",
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lead_id"),
    )
    op.create_table(
        "score_crossings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lead_id", "threshold", name="uq_score_crossings"),
    )
    op.create_table(
        "clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("touch_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["touch_id"], ["touches.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_clicks_touch_at", "clicks", ["touch_id", "at"])
    op.create_index("ix_clicks_lead_id", "clicks", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_clicks_lead_id", table_name="clicks")
    op.drop_index("ix_clicks_touch_at", table_name="clicks")
    op.drop_table("clicks")
    op.drop_table("score_crossings")
    op.drop_table("score_marks")
    op.drop_index("ix_leads_score", table_name="leads")
    op.drop_index("ix_leads_qualification", table_name="leads")
    # Not a batch: rebuilding ``leads`` on SQLite would drop the report's triggers on it.
    for column in reversed(LEAD_COLUMNS):
        op.execute(f"ALTER TABLE leads DROP COLUMN {column}")
