"""The CAP detailed work-up is the child's intake record: ``adl_files.form`` ('adult' or
'cap') and ``adl_files.cap_sections`` (JSON, the §1c fields, validated by emrs/cap/spec.py's
allow-list — never turned into column names). ``growth_measurements``: height, weight and
head circumference of a child on a day, for the WHO growth charts (BMI is computed).

Revision ID: 0024
Revises: 0023
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade():
    with op.batch_alter_table("adl_files") as batch:
        batch.add_column(sa.Column("form", sa.String(10), nullable=False, server_default="adult"))
        batch.add_column(sa.Column("cap_sections", JSON_TYPE, nullable=False, server_default=sa.text("'{}'")))
        batch.create_check_constraint("form_allowed", "form IN ('adult', 'cap')")
    op.create_table(
        "growth_measurements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("registered_patient.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("measured_on", sa.Date, nullable=False),
        sa.Column("height_cm", sa.Numeric(5, 1)),
        sa.Column("weight_kg", sa.Numeric(6, 3)),
        sa.Column("head_circumference_cm", sa.Numeric(4, 1)),
        sa.Column("recorded_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("source", sa.String(20), nullable=False, server_default="cap_workup"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("source IN ('cap_workup', 'manual')", name="growth_source_allowed"),
        sa.UniqueConstraint("patient_id", "measured_on", "source", name="uq_growth_patient_day_source"),
    )
    op.create_index("ix_growth_measurements_patient_id_measured_on", "growth_measurements",
                    ["patient_id", "measured_on"])


def downgrade():
    op.drop_index("ix_growth_measurements_patient_id_measured_on", table_name="growth_measurements")
    op.drop_table("growth_measurements")
    with op.batch_alter_table("adl_files") as batch:
        batch.drop_constraint("form_allowed", type_="check")
        batch.drop_column("cap_sections")
        batch.drop_column("form")
