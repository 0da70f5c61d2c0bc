"""reply labels: the intent a rep gave an inbound message, kept as a training example

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("label", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("labelled_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_inbound_messages_label", ["label"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_index("ix_inbound_messages_label")
        batch.drop_column("labelled_at")
        batch.drop_column("labelled_by")
        batch.drop_column("label")
