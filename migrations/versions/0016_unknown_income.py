"""Unknown income stays unknown: ``registered_patient.patient_income`` and ``family_income`` lose
their server default of 0, so a patient registered without an income has NULL (shown as "not
known"), not ₹0.00. (``head_income`` never had a default.)

On SQLite the default stays in the table (dropping it means rebuilding a table other tables point
at); the model names the value on every insert, so the default is never used.

Existing rows are left as they are: a stored 0.00 may be a real nil income, and nothing recorded
tells it apart from a default.

Revision ID: 0016
Revises: 0015
"""
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if _postgresql():
        op.alter_column("registered_patient", "patient_income", server_default=None)
        op.alter_column("registered_patient", "family_income", server_default=None)


def downgrade():
    if _postgresql():
        op.alter_column("registered_patient", "patient_income", server_default="0")
        op.alter_column("registered_patient", "family_income", server_default="0")
