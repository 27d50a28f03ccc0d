"""Doctor-to-doctor patient referrals: table ``patient_referrals`` (pending → seen → completed,
or revoked by the referrer/Admin while open; one open referral per patient and target doctor).

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'seen')"


def upgrade():
    op.create_table(
        "patient_referrals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("registered_patient.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("from_doctor_id", sa.Integer, sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("to_doctor_id", sa.Integer, sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("seen_at", sa.DateTime(timezone=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('pending', 'seen', 'completed', 'revoked')",
                           name=op.f("ck_patient_referrals_referral_status_allowed")),
        sa.CheckConstraint("from_doctor_id <> to_doctor_id", name=op.f("ck_patient_referrals_referral_not_self")),
    )
    op.create_index("ix_patient_referrals_to_status", "patient_referrals", ["to_doctor_id", "status"])
    op.create_index("ix_patient_referrals_from_status", "patient_referrals", ["from_doctor_id", "status"])
    op.create_index("ix_patient_referrals_patient", "patient_referrals", ["patient_id"])
    op.create_index("uq_patient_referrals_open", "patient_referrals", ["patient_id", "to_doctor_id"], unique=True,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index("uq_patient_referrals_open", table_name="patient_referrals")
    op.drop_index("ix_patient_referrals_patient", table_name="patient_referrals")
    op.drop_index("ix_patient_referrals_from_status", table_name="patient_referrals")
    op.drop_index("ix_patient_referrals_to_status", table_name="patient_referrals")
    op.drop_table("patient_referrals")
