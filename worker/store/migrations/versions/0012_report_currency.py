"""report currency: deal values counted per currency; a lead's country or fields mark it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 12:00:00

The report's and the board's deal values are grouped per currency: a lead's ``currency``
field, else its country's (``worker.leads.locales.stated_currency``), so its share of the
report counters (``worker.analytics.contributions.pipeline_parts``) now depends on its
``country`` and ``fields`` too. The trigger that marks a changed lead (migration 0008) is
made again to watch those columns as well, and every lead is counted again once with the new
keys (``["pipeline", stage, "value", currency]``): the counters, shares and stored visits
are emptied and every lead is marked, as migration 0008 did (about five minutes per million
leads, taken by the scheduler or the first report). The downgrade restores the trigger and
counts every lead again with the keys of the code before.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD_COLUMNS = ("stage", "created_at", "deal_value")
LEAD_COLUMNS = (*OLD_COLUMNS, "country", "fields")


def _changed(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in columns)


def _postgres_trigger(columns: tuple[str, ...]) -> str:
    # fields is JSONB on PostgreSQL: IS DISTINCT FROM compares values, not text.
    return f"""CREATE TRIGGER report_leads_changed
    AFTER UPDATE OF {", ".join(columns)} ON leads FOR EACH ROW
    WHEN ({_changed(columns, "IS DISTINCT FROM")})
    EXECUTE FUNCTION report_mark_row_id()"""


def _sqlite_trigger(columns: tuple[str, ...]) -> str:
    return f"""CREATE TRIGGER report_leads_changed AFTER UPDATE OF {", ".join(columns)} ON leads
    WHEN {_changed(columns, "IS NOT")}
    BEGIN INSERT INTO report_dirty (lead_id) VALUES (NEW.id); END"""  # noqa: S608 (constants)


def _watch(columns: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER report_leads_changed ON leads")
        op.execute(_postgres_trigger(columns))
    else:
        op.execute("DROP TRIGGER report_leads_changed")
        op.execute(_sqlite_trigger(columns))


def _count_every_lead_again() -> None:
    """Forget every stored share and mark every lead (``rollup.mark_every_lead``, frozen)."""
    for table in ("report_counts", "report_leads", "report_visits", "report_dirty"):
        op.execute(f"DELETE FROM {table}")  # noqa: S608 (constants)
    op.execute("INSERT INTO report_dirty (lead_id) SELECT id FROM leads")


def upgrade() -> None:
    _watch(LEAD_COLUMNS)
    _count_every_lead_again()


def downgrade() -> None:
    _watch(OLD_COLUMNS)
    _count_every_lead_again()
