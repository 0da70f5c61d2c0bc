"""resolution undo: what a resolution changed, kept for a short while so a rep can undo it

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 00:30:00

- ``resolution_undo``: one row per resolved review item while its undo window lasts — the
  state the resolution was about to change (the lead's status, stage and qualification, its
  enrollments and open touches, the item, the inbound message) and the rows it created, as
  JSON; who resolved it, when the window closes, and the last event the resolution wrote
  (a later one means someone else changed the lead since). Deleted with the item or the lead.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "resolution_undo",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("snapshot", JSON, nullable=False),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["review_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index("ix_resolution_undo_expires_at", "resolution_undo", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_resolution_undo_expires_at", table_name="resolution_undo")
    op.drop_table("resolution_undo")
