"""Clinical records are amended, not overwritten, and withdrawn, not deleted.

* ``clinical_versions``: each superseded version of a prescription or proforma (its content as
  JSON, who wrote it and when, why it was made, who replaced it and when). The current version
  stays in its own table; together they are the record's history.
* ``prescriptions``: ``signed_by``/``signed_at`` (the signer of the current version: the PDF
  prints this name), ``change_reason``, and withdrawal (``withdrawn_at``, ``withdrawn_by``,
  ``withdrawal_reason``) instead of a hard delete.
* ``clinical_proforma``: ``amended_by``/``amended_at``, ``change_reason`` and the same withdrawal
  columns (its ``is_active`` stays the flag the lists use).
* ``patient_files``: ``purged_at``: a deleted scan stays on disk, restorable, until an Admin purges
  it after the retention period.

Existing prescriptions are signed by their creator.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _withdrawal(batch, table):
    batch.add_column(sa.Column("withdrawn_at", TS, nullable=True))
    batch.add_column(sa.Column("withdrawn_by", sa.Integer(), nullable=True))
    batch.add_column(sa.Column("withdrawal_reason", sa.Text(), nullable=True))
    batch.create_foreign_key(f"fk_{table}_withdrawn_by_users", "users", ["withdrawn_by"], ["id"], ondelete="SET NULL")


def upgrade():
    op.create_table(
        "clinical_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("authored_at", TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("superseded_at", TS, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_clinical_versions_author_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["superseded_by"], ["users.id"],
                                name=op.f("fk_clinical_versions_superseded_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_versions")),
        sa.UniqueConstraint("record_type", "record_id", "version", name="uq_clinical_versions_record_version"),
        sa.CheckConstraint("record_type IN ('prescription', 'proforma')",
                           name=op.f("ck_clinical_versions_record_type_allowed")),
    )
    with op.batch_alter_table("prescriptions") as batch:
        batch.add_column(sa.Column("signed_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("signed_at", TS, nullable=True))
        batch.add_column(sa.Column("change_reason", sa.Text(), nullable=True))
        batch.create_foreign_key("fk_prescriptions_signed_by_users", "users", ["signed_by"], ["id"],
                                 ondelete="SET NULL")
        _withdrawal(batch, "prescriptions")
    with op.batch_alter_table("clinical_proforma") as batch:
        batch.add_column(sa.Column("amended_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("amended_at", TS, nullable=True))
        batch.add_column(sa.Column("change_reason", sa.Text(), nullable=True))
        batch.create_foreign_key("fk_clinical_proforma_amended_by_users", "users", ["amended_by"], ["id"],
                                 ondelete="SET NULL")
        _withdrawal(batch, "clinical_proforma")
    with op.batch_alter_table("patient_files") as batch:
        batch.add_column(sa.Column("purged_at", TS, nullable=True))
    op.execute("UPDATE prescriptions SET signed_by = created_by, signed_at = updated_at")


def downgrade():
    with op.batch_alter_table("patient_files") as batch:
        batch.drop_column("purged_at")
    for table, cols in (("clinical_proforma", ("amended_by", "amended_at", "change_reason")),
                        ("prescriptions", ("signed_by", "signed_at", "change_reason"))):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_withdrawn_by_users", type_="foreignkey")
            batch.drop_constraint(f"fk_{table}_{cols[0]}_users", type_="foreignkey")
            for col in cols + ("withdrawn_at", "withdrawn_by", "withdrawal_reason"):
                batch.drop_column(col)
    op.drop_table("clinical_versions")
