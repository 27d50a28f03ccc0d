"""The patient page's audit trail panel reads a patient's newest audit rows ordered by
(created_at, id). The index on (patient_id, created_at) could not give that order with its
tie-breaker, so PostgreSQL read every audit row of the patient and sorted them: a cost that
grew with each view of the record (1,124 rows and 1.9 ms for a much-read patient of the
bench). With ``id`` in the index the newest 15 come straight off its end.

The timeline's "moved to the adult clinic" entries are audit rows of one action, and were found
the same way (2,102 rows read for none found, 0.36 ms of the 0.45 ms the whole timeline took):
a partial index of those rows alone finds them at once.

On PostgreSQL both indexes are built CONCURRENTLY (audit_log is written on every read); if a
build is interrupted, PostgreSQL leaves an INVALID index behind: drop it and run the upgrade
again (docs/deployment.md).

Revision ID: 0026
Revises: 0025
"""
import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

MOVES = "action = 'patient_to_adult_clinic'"  # children.service.MOVED_ACTION


def upgrade():
    if op.get_context().dialect.name == "postgresql":
        # audit_log takes a row on every read of a record: a plain CREATE INDEX would hold its
        # writes (so every patient page and API read) for the whole build. CONCURRENTLY builds
        # beside them; it cannot run in a transaction, so this block commits what ran before it.
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_audit_log_patient_order "
                       "ON audit_log (patient_id, created_at, id)")
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_audit_log_patient_time")
            op.execute("ALTER INDEX ix_audit_log_patient_order RENAME TO ix_audit_log_patient_time")
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_audit_log_clinic_moves "
                       f"ON audit_log (patient_id, id) WHERE {MOVES}")
        return
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_patient_time")
        batch_op.create_index("ix_audit_log_patient_time", ["patient_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_audit_log_clinic_moves", ["patient_id", "id"], unique=False,
                              sqlite_where=sa.text(MOVES))


def downgrade():
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_clinic_moves")
        batch_op.drop_index("ix_audit_log_patient_time")
        batch_op.create_index("ix_audit_log_patient_time", ["patient_id", "created_at"], unique=False)
