"""an index on the domain of leads' email addresses (a company's colleagues)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 19:00:00

``worker.leads.colleagues`` finds the other leads of a company by the part of the address
after its last ``@``; without an index each reply that reaches colleagues read every lead
(``email LIKE '%@domain'``). The expression is ``worker.store.models.email_domain``, the same
text on SQLite and PostgreSQL, so a query that writes it uses the index.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DOMAIN = "substr(email, length(rtrim(email, replace(email, '@', ''))) + 1)"


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_leads_email_domain ON leads (({DOMAIN}))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_leads_email_domain")
