"""data-protection requests: erasures, raw mail cleared by retention

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 00:30:00

- ``erasures``: one row per erased person (``outreach leads erase``): when, by whom, the
  hashed address and how many rows of each table went — never the address itself. The
  hashed suppression lives in ``suppressions.value`` (``sha256:…``), so the one suppression
  rule needs no column of its own.
- ``inbound_messages.raw_cleared_at``: when the raw bytes of a message were cleared (raw mail
  retention, ``OUTREACH_RAW_MAIL_RETENTION_DAYS``); the parsed metadata stays.
- ``ix_inbound_raw_kept``: the processed messages whose raw bytes are still kept, by when
  they were processed, so the retention pass reads only what it clears.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_KEPT = sa.text("processed_at IS NOT NULL AND raw_cleared_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.String(length=100), nullable=False),
        sa.Column("address_hash", sa.String(length=80), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_erasures_address_hash", "erasures", ["address_hash"])
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("raw_cleared_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_inbound_raw_kept",
        "inbound_messages",
        ["processed_at"],
        sqlite_where=_KEPT,
        postgresql_where=_KEPT,
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_raw_kept", table_name="inbound_messages")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("raw_cleared_at")
    op.drop_index("ix_erasures_address_hash", table_name="erasures")
    op.drop_table("erasures")
