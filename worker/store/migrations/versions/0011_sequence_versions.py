"""sequence versions: what version each enrollment runs and each touch was rendered from

Revision ID: 0011
Revises: 0009 (meant: 0010)
Create Date: 2026-12-08 10:00:00

``sequence_versions`` keeps each version's YAML and templates from its first use. An
enrollment records the version it runs (``version``) and the version of the files its
``on_change`` policy was last applied against (``seen_version``); a touch records its step's
stable id and its version. Touches become unique per (enrollment, step id) instead of
(enrollment, step index): a step keeps its id when steps are inserted, removed or reordered,
so one email can never go out twice, and a step's new place never collides with an old one.

Existing touches get their step id when their enrollment is first pinned to a version by the
tick (``worker.delivery.sequence_changes``). On SQLite the touches table is rebuilt to swap
the unique constraint; ``worker.store.db.migrate`` turns foreign-key actions off around it, so
that dropping the old table does not empty ``touch_id`` in events, review items or inbound
messages (this migration refuses to run otherwise while such references exist). The report
triggers on touches (migration 0008) are created again afterwards.
"""

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"  # meant to be "0010" (not in the tree yet): renumber when it lands
branch_labels = None
depends_on = None

_REPORT = importlib.import_module("worker.store.migrations.versions.0008_report_counters")
_TOUCH_TRIGGERS = [sql for sql in _REPORT.SQLITE_TRIGGERS if " ON touches" in sql]
_REFERENCES = ("events", "review_items", "inbound_messages")


def upgrade() -> None:
    op.create_table(
        "sequence_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.String(length=100), nullable=False),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "templates",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_sequence_versions_sequence", "sequence_versions", ["sequence"])
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("version", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("seen_version", sa.String(length=64), nullable=True))
    op.create_index("ix_enrollments_sequence_seen", "enrollments", ["sequence", "seen_version"])
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("touches", sa.Column("step_id", sa.String(length=200), nullable=True))
        op.add_column("touches", sa.Column("version", sa.String(length=64), nullable=True))
        op.drop_constraint("uq_touches_enrollment_step", "touches", type_="unique")
        op.create_unique_constraint(
            "uq_touches_enrollment_step_id", "touches", ["enrollment_id", "step_id"]
        )
        return
    _check_sqlite_foreign_keys()
    with op.batch_alter_table("touches", recreate="always") as batch:
        batch.add_column(sa.Column("step_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("version", sa.String(length=64), nullable=True))
        batch.drop_constraint("uq_touches_enrollment_step", type_="unique")
        batch.create_unique_constraint(
            "uq_touches_enrollment_step_id", ["enrollment_id", "step_id"]
        )
    for statement in _TOUCH_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    doubled = bind.execute(
        sa.text(
            "SELECT count(*) FROM (SELECT enrollment_id FROM touches"
            " GROUP BY enrollment_id, step_index HAVING count(*) > 1) AS doubled"
        )
    ).scalar()
    if doubled:
        raise RuntimeError(
            f"cannot downgrade below 0011: {doubled} enrollment(s) have touches of two sequence "
            "versions at one step index, which the old unique (enrollment, step index) forbids"
            " — keep 0011, or delete those enrollments' older touches first"
        )
    if bind.dialect.name == "postgresql":
        op.drop_constraint("uq_touches_enrollment_step_id", "touches", type_="unique")
        op.create_unique_constraint(
            "uq_touches_enrollment_step", "touches", ["enrollment_id", "step_index"]
        )
        op.drop_column("touches", "version")
        op.drop_column("touches", "step_id")
    else:
        _check_sqlite_foreign_keys()
        with op.batch_alter_table("touches", recreate="always") as batch:
            batch.drop_constraint("uq_touches_enrollment_step_id", type_="unique")
            batch.create_unique_constraint(
                "uq_touches_enrollment_step", ["enrollment_id", "step_index"]
            )
            batch.drop_column("version")
            batch.drop_column("step_id")
        for statement in _TOUCH_TRIGGERS:
            op.execute(statement)
    op.drop_index("ix_enrollments_sequence_seen", table_name="enrollments")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("seen_version")
        batch.drop_column("version")
    op.drop_index("ix_sequence_versions_sequence", table_name="sequence_versions")
    op.drop_table("sequence_versions")


def _check_sqlite_foreign_keys() -> None:
    """Rebuilding ``touches`` drops the old table: with foreign keys on, SQLite would first
    delete every row and set ``touch_id`` to NULL wherever it is referenced. Refuse unless
    foreign keys are off (``worker.store.db.migrate`` does that) or nothing refers to a touch."""
    bind = op.get_bind()
    if not bind.execute(sa.text("PRAGMA foreign_keys")).scalar():
        return
    for table in _REFERENCES:
        found = bind.execute(
            sa.text(f"SELECT 1 FROM {table} WHERE touch_id IS NOT NULL LIMIT 1")  # noqa: S608
        ).first()
        if found is not None:
            raise RuntimeError(
                "migration 0011 rebuilds the touches table: run it with 'outreach db upgrade'"
                " (which turns SQLite's foreign-key actions off around it), not on a"
                " connection with PRAGMA foreign_keys=ON"
            )
