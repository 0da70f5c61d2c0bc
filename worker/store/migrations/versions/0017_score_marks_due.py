"""score marks by due time: the tick reads the marks due now from an index

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 23:30:00

- ``ix_score_marks_marked_at``: a mark's ``marked_at`` is when the lead is due for scoring
  (now for an event, later for a score whose points still decay); the tick asks for the marks
  due by now, oldest first, a batch at a time (``worker.scoring.engine.score_marked``). With
  a decay mark for every engaged lead the table holds many rows not due yet: without the
  index each tick would read them all.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_score_marks_marked_at", "score_marks", ["marked_at"])


def downgrade() -> None:
    op.drop_index("ix_score_marks_marked_at", table_name="score_marks")
