"""web app: rep accounts, review assignment, sent text on touches

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("assignee", sa.String(length=100), nullable=True))
        batch.create_index("ix_review_items_assignee", ["assignee"], unique=False)
    with op.batch_alter_table("touches") as batch:
        batch.add_column(sa.Column("body_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("touches") as batch:
        batch.drop_column("body_text")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_index("ix_review_items_assignee")
        batch.drop_column("assignee")
    op.drop_table("reps")
