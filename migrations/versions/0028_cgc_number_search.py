"""A child is found by its CGC number in patient search, as fast as by a CR, PSY or ADL number.

Patient search (emrs/patients/search.py) now matches ``cgc_number`` like the other numbers:
exactly or by prefix, any case (``upper(cgc_number) LIKE 'CGC2025%'``), and by the number's
body and trailing characters ("2025000123", "0123": the reversed body, migration 0015). The
unique index of migration 0022 is on the plain column and serves neither, so at 1M patients
each would read the whole table. PostgreSQL gets the same two b-trees the other numbers have
(0002, 0015), partial: only the Child Guidance Clinic's rows carry a CGC number, so the indexes
stay small, and every search condition on the column implies ``cgc_number IS NOT NULL`` (the
functions and operators are strict), so the planner uses them. The expressions must stay
exactly as patients.search writes them. SQLite: nothing (its search reads the table).

Revision ID: 0028
Revises: 0027
"""
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

PREFIX = "upper(cgc_number) text_pattern_ops"
BODY = "reverse(regexp_replace(upper(cgc_number), '^[A-Z]+|[^0-9A-Z]', '', 'g')) text_pattern_ops"
WHERE = "WHERE cgc_number IS NOT NULL"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_patient_cgc_number_prefix ON registered_patient ({PREFIX}) {WHERE}")
        op.execute(f"CREATE INDEX ix_patient_cgc_number_body_rev ON registered_patient ({BODY}) {WHERE}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_patient_cgc_number_body_rev")
        op.execute("DROP INDEX IF EXISTS ix_patient_cgc_number_prefix")
