"""replies written in the app, sent once

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-08 00:30:00

``manual_replies``: one row per reply a rep writes to a lead in the web app or with
``outreach leads reply`` (``worker.working.replies``). ``key`` is the idempotency key of the
form that sent it (unique: a double-submitted form, a retried request or two reps pressing
send at once claim the row once). ``status`` moves ``claimed`` → ``sending`` (just before the
hand-over, durable) → ``sent``; or ``refused`` (a gate said no: nothing sent, the same form may
try again), ``failed`` (the server refused it), ``unknown`` (handed over, no answer recorded:
flagged for a rep, never resent). ``started_at`` is the time of the claim, then of the
hand-over (stale rows are found by it). The message as built is kept (``message_id``,
``subject``, ``body``) and what it answered (``inbound_id``, ``in_reply_to``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "manual_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("mailbox", sa.String(100), nullable=True),
        sa.Column("message_id", sa.String(300), nullable=True),
        sa.Column("in_reply_to", sa.String(998), nullable=True),
        sa.Column("subject", sa.String(1000), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("then", sa.String(16), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["review_items.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_messages.id"], ondelete="SET NULL"),
        sa.UniqueConstraint("key", name="uq_manual_replies_key"),
    )
    op.create_index("ix_manual_replies_lead_id", "manual_replies", ["lead_id"])
    op.create_index("ix_manual_replies_status", "manual_replies", ["status", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_manual_replies_status", table_name="manual_replies")
    op.drop_index("ix_manual_replies_lead_id", table_name="manual_replies")
    op.drop_table("manual_replies")
