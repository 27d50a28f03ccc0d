"""Prescriptions keep the drug-safety warnings shown at saving and the doctor's override reason.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    json_type = postgresql.JSONB() if pg else sa.JSON()
    op.add_column("prescriptions", sa.Column("warnings", json_type, server_default=sa.text("'[]'"), nullable=False))
    op.add_column("prescriptions", sa.Column("override_reason", sa.Text(), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("prescriptions", "override_reason")
        op.drop_column("prescriptions", "warnings")
    else:  # SQLite 3.35+ drops columns in place
        op.execute("ALTER TABLE prescriptions DROP COLUMN override_reason")
        op.execute("ALTER TABLE prescriptions DROP COLUMN warnings")
