"""heartbeats: running processes say they are alive; touches remember which process holds them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("holder", sa.String(length=120), primary_key=True),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumer", sa.String(length=64), nullable=True),
    )
    with op.batch_alter_table("touches") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("touches") as batch:
        batch.drop_column("holder")
    op.drop_table("heartbeats")
