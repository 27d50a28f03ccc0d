"""The audit trail is append-only at the database: UPDATE, DELETE and TRUNCATE refused.

0001 already created the row triggers (UPDATE, DELETE) on both databases. This revision
makes the rule stand on its own on PostgreSQL (function and row trigger re-created, so
a database that lost them gets them back) and adds a statement-level trigger refusing
TRUNCATE, which row triggers do not see (also ``TRUNCATE users CASCADE``). A restore
(pg_restore --clean) drops and re-creates the table with its triggers; DROP TABLE is
not refused. SQLite has no TRUNCATE and 0001's DELETE trigger already stops
``DELETE FROM audit_log``: nothing to do there.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FUNCTION = """
    CREATE OR REPLACE FUNCTION emrs_audit_log_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
    END;
    $$ LANGUAGE plpgsql
"""
FUNCTION_0001 = """
    CREATE OR REPLACE FUNCTION emrs_audit_log_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END;
    $$ LANGUAGE plpgsql
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION emrs_audit_log_append_only()")
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION emrs_audit_log_append_only()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute(FUNCTION_0001)  # the row trigger of 0001 stays
