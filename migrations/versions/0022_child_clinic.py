"""Child and adolescent psychiatry in the one patient registry: ``registered_patient.clinic``
('adult' or 'child'; every existing row is adult), the Child Guidance Clinic number
``cgc_number`` (unique when present — the original typed it freely and allowed duplicates),
``date_of_birth`` (growth references need age in days), the head of family's monthly income band
``head_income_band`` (the child card records a band, not rupees) and ``adult_since`` (the day a
child moved to the adult clinic, keeping one record and one CR number).

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registered_patient") as batch:
        batch.add_column(sa.Column("clinic", sa.String(10), nullable=False, server_default="adult"))
        batch.add_column(sa.Column("cgc_number", sa.String(50)))
        batch.add_column(sa.Column("date_of_birth", sa.Date))
        batch.add_column(sa.Column("head_income_band", sa.Text))
        batch.add_column(sa.Column("adult_since", sa.Date))
        batch.create_check_constraint("clinic_allowed", "clinic IN ('adult', 'child')")
    op.create_index("uq_registered_patient_cgc_number", "registered_patient", ["cgc_number"], unique=True,
                    postgresql_where=sa.text("cgc_number IS NOT NULL"),
                    sqlite_where=sa.text("cgc_number IS NOT NULL"))
    op.create_index("ix_registered_patient_child", "registered_patient", ["created_at"],
                    postgresql_where=sa.text("clinic = 'child'"), sqlite_where=sa.text("clinic = 'child'"))


def downgrade():
    op.drop_index("ix_registered_patient_child", table_name="registered_patient")
    op.drop_index("uq_registered_patient_cgc_number", table_name="registered_patient")
    with op.batch_alter_table("registered_patient") as batch:
        batch.drop_constraint("clinic_allowed", type_="check")
        for name in ("adult_since", "head_income_band", "date_of_birth", "cgc_number", "clinic"):
            batch.drop_column(name)
