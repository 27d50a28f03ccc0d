"""Patient search: name key column, trigram indexes (PostgreSQL) and prefix indexes
for CR / PSY / ADL numbers and mobile.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PREFIX_COLUMNS = ("cr_no", "psy_no", "adl_no", "contact_number")


def upgrade():
    with op.batch_alter_table("registered_patient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.Text(), server_default="", nullable=False))
    _backfill_name_keys()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # Substring (LIKE '%q%'), similarity and word-similarity searches on the name and its key.
        op.execute("CREATE INDEX ix_patient_name_trgm ON registered_patient "
                   "USING gin (lower(name) gin_trgm_ops)")
        op.execute("CREATE INDEX ix_patient_name_key_trgm ON registered_patient "
                   "USING gin (name_key gin_trgm_ops)")
        # Prefix look-ups (LIKE 'CR2025%') whatever the database collation.
        for col in PREFIX_COLUMNS:
            op.execute(f"CREATE INDEX ix_patient_{col}_prefix ON registered_patient "
                       f"(upper({col}) text_pattern_ops)")
    else:
        op.create_index("ix_patient_name_key", "registered_patient", ["name_key"])
        for col in PREFIX_COLUMNS:
            op.create_index(f"ix_patient_{col}_prefix", "registered_patient", [sa.text(f"upper({col})")])


def _backfill_name_keys(batch: int = 5000) -> None:
    """Compute the key of every existing patient (the rule lives in emrs/patients/names.py)."""
    from emrs.patients.names import name_key

    bind = op.get_bind()
    table = sa.table("registered_patient", sa.column("id", sa.Integer), sa.column("name", sa.Text),
                     sa.column("name_key", sa.Text))
    last = 0
    while True:
        rows = bind.execute(sa.select(table.c.id, table.c.name).where(table.c.id > last)
                            .order_by(table.c.id).limit(batch)).all()
        if not rows:
            break
        bind.execute(table.update().where(table.c.id == sa.bindparam("pid")).values(name_key=sa.bindparam("key")),
                     [{"pid": r.id, "key": name_key(r.name or "")} for r in rows])
        last = rows[-1].id


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for col in PREFIX_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_patient_{col}_prefix")
        op.execute("DROP INDEX IF EXISTS ix_patient_name_key_trgm")
        op.execute("DROP INDEX IF EXISTS ix_patient_name_trgm")
    else:
        for col in PREFIX_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_patient_{col}_prefix")
        op.execute("DROP INDEX IF EXISTS ix_patient_name_key")
    with op.batch_alter_table("registered_patient", schema=None) as batch_op:
        batch_op.drop_column("name_key")
