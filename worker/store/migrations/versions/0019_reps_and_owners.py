"""reps and owners: a rep's full name, email, time zone and role; leads by owner

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 00:30:00

- ``reps.full_name``, ``reps.email`` (where notifications go), ``reps.timezone`` (an IANA
  zone name, pages show times in it; ``UTC`` until set) and ``reps.role`` (``admin`` or
  ``rep``). Existing reps become admins: they could do everything before, so nobody is
  locked out of managing reps.
- ``ix_leads_owner``: the "Mine" view of /leads and its counts read leads by owner.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("full_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC")
        )
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="admin")
        )
    # Only the rows that existed are admins by default; new accounts say their role.
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=16), server_default=None)
    op.create_index("ix_leads_owner", "leads", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_leads_owner", table_name="leads")
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_column("role")
        batch_op.drop_column("timezone")
        batch_op.drop_column("email")
        batch_op.drop_column("full_name")
