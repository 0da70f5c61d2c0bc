"""report counters: daily sums per lead share, marks kept by triggers; indexes for big lists

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:00:00

The report is read from ``report_counts`` (see ``worker.analytics.rollup``). Triggers mark a
lead in ``report_dirty`` in the same transaction as any change that alters its share: an
event of a kind the report reads, a touch moved to another step, mailbox or variant, a lead
added, deleted, or changed in stage, creation time or deal value. Every existing lead is
marked here: the first report after the upgrade computes every share once (about five
minutes per million leads), then only the leads that changed.

Indexes: the board's most valuable leads per stage (``ix_leads_stage_value``), substring
search of the leads list (pg_trgm, PostgreSQL only, when available), and one fewer on
touches (``ix_touches_enrollment_id``: the unique (enrollment_id, step_index) serves it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The event kinds the report reads (worker.analytics.queries.REPORT_KINDS, frozen here).
KINDS = (
    "lead_created",
    "stage_changed",
    "sent",
    "classified",
    "unsubscribed",
    "suppressed",
    "sequence_completed",
    "sequence_stopped",
)
_IN_KINDS = "kind IN (" + ", ".join(f"'{kind}'" for kind in KINDS) + ")"
TOUCH_COLUMNS = ("lead_id", "sequence", "step_index", "mailbox", "variant")
LEAD_COLUMNS = ("stage", "created_at", "deal_value")


def _changed(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in columns)


POSTGRES_TRIGGERS = [
    # Events: row triggers whose WHEN is checked without calling a function, so writing an
    # event the report does not read costs nothing (a statement trigger with a transition
    # table would cost every single-row insert of the send path about 30 us).
    """
    CREATE FUNCTION report_mark_new_lead() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_dirty (lead_id) VALUES (NEW.lead_id);
        RETURN NULL;
    END $$""",
    """
    CREATE FUNCTION report_mark_old_lead() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_dirty (lead_id) VALUES (OLD.lead_id);
        RETURN NULL;
    END $$""",
    """
    CREATE FUNCTION report_mark_both_leads() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.lead_id IS NOT NULL THEN
            INSERT INTO report_dirty (lead_id) VALUES (NEW.lead_id);
        END IF;
        IF OLD.lead_id IS NOT NULL AND OLD.lead_id IS DISTINCT FROM NEW.lead_id THEN
            INSERT INTO report_dirty (lead_id) VALUES (OLD.lead_id);
        END IF;
        RETURN NULL;
    END $$""",
    # Leads and deleted touches: statement triggers, one INSERT ... SELECT per statement
    # (an import adds thousands of leads per statement).
    """
    CREATE FUNCTION report_mark_lead_ids_old() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_dirty (lead_id)
        SELECT DISTINCT lead_id FROM old_rows WHERE lead_id IS NOT NULL;
        RETURN NULL;
    END $$""",
    """
    CREATE FUNCTION report_mark_ids_new() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_dirty (lead_id) SELECT id FROM new_rows;
        RETURN NULL;
    END $$""",
    """
    CREATE FUNCTION report_mark_ids_old() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_dirty (lead_id) SELECT id FROM old_rows;
        RETURN NULL;
    END $$""",
    """
    CREATE FUNCTION report_mark_row_id() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_dirty (lead_id) VALUES (NEW.id);
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER report_events_inserted AFTER INSERT ON events FOR EACH ROW
    WHEN (NEW.lead_id IS NOT NULL AND NEW.{_IN_KINDS})
    EXECUTE FUNCTION report_mark_new_lead()""",
    f"""CREATE TRIGGER report_events_deleted AFTER DELETE ON events FOR EACH ROW
    WHEN (OLD.lead_id IS NOT NULL AND OLD.{_IN_KINDS})
    EXECUTE FUNCTION report_mark_old_lead()""",
    """CREATE TRIGGER report_events_updated AFTER UPDATE ON events FOR EACH ROW
    EXECUTE FUNCTION report_mark_both_leads()""",
    f"""CREATE TRIGGER report_touches_changed
    AFTER UPDATE OF {", ".join(TOUCH_COLUMNS)} ON touches FOR EACH ROW
    WHEN ({_changed(TOUCH_COLUMNS, "IS DISTINCT FROM")})
    EXECUTE FUNCTION report_mark_both_leads()""",
    """CREATE TRIGGER report_touches_deleted AFTER DELETE ON touches
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION report_mark_lead_ids_old()""",
    """CREATE TRIGGER report_leads_inserted AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION report_mark_ids_new()""",
    """CREATE TRIGGER report_leads_deleted AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION report_mark_ids_old()""",
    f"""CREATE TRIGGER report_leads_changed
    AFTER UPDATE OF {", ".join(LEAD_COLUMNS)} ON leads FOR EACH ROW
    WHEN ({_changed(LEAD_COLUMNS, "IS DISTINCT FROM")})
    EXECUTE FUNCTION report_mark_row_id()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER report_events_inserted ON events",
    "DROP TRIGGER report_events_deleted ON events",
    "DROP TRIGGER report_events_updated ON events",
    "DROP TRIGGER report_touches_changed ON touches",
    "DROP TRIGGER report_touches_deleted ON touches",
    "DROP TRIGGER report_leads_inserted ON leads",
    "DROP TRIGGER report_leads_deleted ON leads",
    "DROP TRIGGER report_leads_changed ON leads",
    "DROP FUNCTION report_mark_new_lead()",
    "DROP FUNCTION report_mark_old_lead()",
    "DROP FUNCTION report_mark_both_leads()",
    "DROP FUNCTION report_mark_lead_ids_old()",
    "DROP FUNCTION report_mark_ids_new()",
    "DROP FUNCTION report_mark_ids_old()",
    "DROP FUNCTION report_mark_row_id()",
]


def _mark(value: str) -> str:
    return f"INSERT INTO report_dirty (lead_id) VALUES ({value});"  # noqa: S608 (constants)


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER report_events_inserted AFTER INSERT ON events
    WHEN NEW.lead_id IS NOT NULL AND NEW.{_IN_KINDS}
    BEGIN {_mark("NEW.lead_id")} END""",
    f"""CREATE TRIGGER report_events_deleted AFTER DELETE ON events
    WHEN OLD.lead_id IS NOT NULL AND OLD.{_IN_KINDS}
    BEGIN {_mark("OLD.lead_id")} END""",
    """CREATE TRIGGER report_events_updated AFTER UPDATE ON events
    BEGIN
        INSERT INTO report_dirty (lead_id) SELECT OLD.lead_id WHERE OLD.lead_id IS NOT NULL;
        INSERT INTO report_dirty (lead_id) SELECT NEW.lead_id WHERE NEW.lead_id IS NOT NULL;
    END""",
    f"""CREATE TRIGGER report_touches_changed
    AFTER UPDATE OF {", ".join(TOUCH_COLUMNS)} ON touches
    WHEN {_changed(TOUCH_COLUMNS, "IS NOT")}
    BEGIN {_mark("OLD.lead_id")} {_mark("NEW.lead_id")} END""",
    f"""CREATE TRIGGER report_touches_deleted AFTER DELETE ON touches
    BEGIN {_mark("OLD.lead_id")} END""",
    f"""CREATE TRIGGER report_leads_inserted AFTER INSERT ON leads
    BEGIN {_mark("NEW.id")} END""",
    f"""CREATE TRIGGER report_leads_deleted AFTER DELETE ON leads
    BEGIN {_mark("OLD.id")} END""",
    f"""CREATE TRIGGER report_leads_changed AFTER UPDATE OF {", ".join(LEAD_COLUMNS)} ON leads
    WHEN {_changed(LEAD_COLUMNS, "IS NOT")}
    BEGIN {_mark("NEW.id")} END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER {name}"
    for name in (
        "report_events_inserted",
        "report_events_deleted",
        "report_events_updated",
        "report_touches_changed",
        "report_touches_deleted",
        "report_leads_inserted",
        "report_leads_deleted",
        "report_leads_changed",
    )
]


def upgrade() -> None:
    op.create_table(
        "report_dirty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_dirty_lead_id", "report_dirty", ["lead_id"])
    op.create_table(
        "report_leads",
        sa.Column("lead_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id"),
    )
    op.create_table(
        "report_counts",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "day"),
    )
    op.create_table(
        "report_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_visits_lead_id", "report_visits", ["lead_id"])
    op.create_index(
        "ix_report_visits_stage_duration",
        "report_visits",
        ["stage", "duration_us", "entered_at", "lead_id"],
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO report_dirty (lead_id) SELECT id FROM leads")
    # SQLite sorts NULL first, so last when descending, and takes no NULLS LAST in an index.
    value = "deal_value DESC NULLS LAST" if postgres else "deal_value DESC"
    op.create_index("ix_leads_stage_value", "leads", ["stage", sa.text(value), "id"])
    if postgres:
        _trigram_indexes()
    # uq_touches_enrollment_step (enrollment_id, step_index) serves every lookup by enrollment;
    # the tick writes thousands of touches a run, each one index insert fewer.
    op.drop_index("ix_touches_enrollment_id", table_name="touches")


def _trigram_indexes() -> None:
    """Substring search of the leads list (email, company) through pg_trgm, when the server
    has it: the extension goes to the schema where it already is, else to ``public``."""
    bind = op.get_bind()
    schema = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    ).scalar()
    if schema is None:
        available = bind.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        ).scalar()
        public = bind.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'"))
        if not available or public.scalar() is None:
            return
        with bind.begin_nested() as savepoint:
            try:
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
            except sa.exc.DBAPIError:  # not allowed to: search reads every lead, as before
                savepoint.rollback()
                return
        schema = "public"
    for column in ("email", "company"):  # the list searches with ILIKE '%...%'
        op.execute(
            f"CREATE INDEX ix_leads_{column}_trgm ON leads"
            f' USING gin ({column} "{schema}".gin_trgm_ops)'
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_index("ix_touches_enrollment_id", "touches", ["enrollment_id"])
    if postgres:
        op.execute("DROP INDEX IF EXISTS ix_leads_email_trgm")
        op.execute("DROP INDEX IF EXISTS ix_leads_company_trgm")
    op.drop_index("ix_leads_stage_value", "leads")
    for statement in POSTGRES_DROP if postgres else SQLITE_DROP:
        op.execute(statement)
    op.drop_table("report_visits")
    op.drop_table("report_counts")
    op.drop_table("report_leads")
    op.drop_table("report_dirty")
