"""ABHA (Ayushman Bharat Health Account) number and address on the patient.

The number is stored as its 14 digits (shown XX-XXXX-XXXX-XXXX) and is unique when
present; the address is stored lower-case (name@abdm).

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "uq_registered_patient_abha_number"
ADDRESS_INDEX = "ix_registered_patient_abha_address"


def upgrade():
    op.add_column("registered_patient", sa.Column("abha_number", sa.String(14), nullable=True))
    op.add_column("registered_patient", sa.Column("abha_address", sa.String(64), nullable=True))
    # Unique only where present: most patients have no ABHA yet.
    op.create_index(INDEX, "registered_patient", ["abha_number"], unique=True,
                    postgresql_where=sa.text("abha_number IS NOT NULL"),
                    sqlite_where=sa.text("abha_number IS NOT NULL"))
    # Look-up by ABHA address (FHIR identifier search); not unique.
    op.create_index(ADDRESS_INDEX, "registered_patient", ["abha_address"],
                    postgresql_where=sa.text("abha_address IS NOT NULL"),
                    sqlite_where=sa.text("abha_address IS NOT NULL"))


def downgrade():
    op.drop_index(ADDRESS_INDEX, table_name="registered_patient")
    op.drop_index(INDEX, table_name="registered_patient")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("registered_patient", "abha_address")
        op.drop_column("registered_patient", "abha_number")
    else:  # SQLite 3.35+ drops columns in place
        op.execute("ALTER TABLE registered_patient DROP COLUMN abha_address")
        op.execute("ALTER TABLE registered_patient DROP COLUMN abha_number")
