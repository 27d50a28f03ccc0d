"""Adult follow-up visits: table ``followup_visits`` (one clinical assessment per returning
patient's consultation, amended with versions, withdrawn never deleted), a prescription
written from a follow-up (``prescriptions.followup_id``; ``clinical_proforma_id`` becomes
nullable and exactly one of the two is set), files attached to a follow-up
(``patient_files.followup_id``), and ``clinical_versions`` keeping follow-up versions.

Downgrading removes follow-ups, their prescriptions and their kept versions (files stay with
the patient).

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

RECORD_TYPES_OLD = "record_type IN ('prescription', 'proforma')"
RECORD_TYPES_NEW = "record_type IN ('prescription', 'proforma', 'followup')"
ONE_SOURCE = "(clinical_proforma_id IS NULL) <> (followup_id IS NULL)"


def upgrade():
    op.create_table(
        "followup_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("registered_patient.id", ondelete="CASCADE",
                                                          name="fk_followup_visits_patient_id_registered_patient"),
                  nullable=False),
        sa.Column("visit_id", sa.Integer, sa.ForeignKey("patient_visits.id", ondelete="SET NULL",
                                                        name="fk_followup_visits_visit_id_patient_visits")),
        sa.Column("visit_date", sa.Date, nullable=False),
        sa.Column("clinical_assessment", sa.Text, nullable=False),
        sa.Column("filled_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL",
                                                         name="fk_followup_visits_filled_by_users")),
        sa.Column("assigned_doctor_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL",
                                                                  name="fk_followup_visits_assigned_doctor_id_users")),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="RESTRICT",
                                                       name="fk_followup_visits_room_id_rooms")),
        sa.Column("room_no", sa.String(20)),
        sa.Column("amended_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL",
                                                          name="fk_followup_visits_amended_by_users")),
        sa.Column("amended_at", sa.DateTime(timezone=True)),
        sa.Column("change_reason", sa.Text),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL",
                                                            name="fk_followup_visits_withdrawn_by_users")),
        sa.Column("withdrawal_reason", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("length(clinical_assessment) BETWEEN 1 AND 10000",
                           name=op.f("ck_followup_visits_clinical_assessment_length")),
    )
    op.create_index("ix_followup_visits_patient_id_visit_date", "followup_visits", ["patient_id", "visit_date", "id"])
    op.create_index("ix_followup_visits_visit_id", "followup_visits", ["visit_id"])
    op.create_index("ix_followup_visits_filled_by", "followup_visits", ["filled_by"])

    # Files attached to a follow-up. SQLite adds the reference with a plain ALTER (no table
    # rebuild of patient_files).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE patient_files ADD COLUMN followup_id INTEGER "
                   "REFERENCES followup_visits (id) ON DELETE SET NULL")
    else:
        op.add_column("patient_files", sa.Column("followup_id", sa.Integer, sa.ForeignKey(
            "followup_visits.id", ondelete="SET NULL", name="fk_patient_files_followup_id_followup_visits")))
    op.create_index("ix_patient_files_followup_id", "patient_files", ["followup_id"])

    # A prescription is written from a proforma or from a follow-up: exactly one of them.
    with op.batch_alter_table("prescriptions") as batch:
        batch.alter_column("clinical_proforma_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("followup_id", sa.Integer))
        batch.create_foreign_key("fk_prescriptions_followup_id_followup_visits", "followup_visits",
                                 ["followup_id"], ["id"], ondelete="CASCADE")
        batch.create_unique_constraint("uq_prescriptions_followup_id", ["followup_id"])
        batch.create_check_constraint(op.f("ck_prescriptions_one_source"), ONE_SOURCE)

    with op.batch_alter_table("clinical_versions") as batch:
        batch.drop_constraint(op.f("ck_clinical_versions_record_type_allowed"), type_="check")
        batch.create_check_constraint(op.f("ck_clinical_versions_record_type_allowed"), RECORD_TYPES_NEW)


def downgrade():
    op.execute("DELETE FROM clinical_versions WHERE record_type = 'followup' OR (record_type = 'prescription' "
               "AND record_id IN (SELECT id FROM prescriptions WHERE followup_id IS NOT NULL))")
    with op.batch_alter_table("clinical_versions") as batch:
        batch.drop_constraint(op.f("ck_clinical_versions_record_type_allowed"), type_="check")
        batch.create_check_constraint(op.f("ck_clinical_versions_record_type_allowed"), RECORD_TYPES_OLD)
    op.execute("DELETE FROM prescriptions WHERE followup_id IS NOT NULL")
    with op.batch_alter_table("prescriptions") as batch:
        batch.drop_constraint(op.f("ck_prescriptions_one_source"), type_="check")
        batch.drop_constraint("uq_prescriptions_followup_id", type_="unique")
        batch.drop_constraint("fk_prescriptions_followup_id_followup_visits", type_="foreignkey")
        batch.drop_column("followup_id")
        batch.alter_column("clinical_proforma_id", existing_type=sa.Integer, nullable=False)
    op.drop_index("ix_patient_files_followup_id", table_name="patient_files")
    with op.batch_alter_table("patient_files") as batch:
        batch.drop_column("followup_id")
    op.drop_index("ix_followup_visits_filled_by", table_name="followup_visits")
    op.drop_index("ix_followup_visits_visit_id", table_name="followup_visits")
    op.drop_index("ix_followup_visits_patient_id_visit_date", table_name="followup_visits")
    op.drop_table("followup_visits")
