"""API keys for the JSON API

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 00:30:00

``api_keys``: one row per key of the JSON API (``/api/v1``). The secret itself is never
stored: only its SHA-256 digest (``secret_hash``) and a short, non-secret ``prefix`` that
lists and logs show and that finds the row; ``scope`` is ``read`` or ``write`` (write implies
read). ``last_used_at`` is set as the key is used; a revoked key keeps its row
(``revoked_at``) so lists show when it was revoked.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
