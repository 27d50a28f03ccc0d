"""Rating scales scored at the visit (issue 19): ``assessments`` (answers, total, subscales,
severity band, risk flags and their acknowledgement, confirmation of self-reports) and
``kiosk_sessions`` (a tablet handed to one patient for one self-report scale).

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


def _user(name):
    return sa.Column(name, sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))


def upgrade():
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("registered_patient.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("visit_id", sa.Integer, sa.ForeignKey("patient_visits.id", ondelete="SET NULL")),
        sa.Column("proforma_id", sa.Integer, sa.ForeignKey("clinical_proforma.id", ondelete="SET NULL")),
        sa.Column("followup_id", sa.Integer, sa.ForeignKey("followup_visits.id", ondelete="SET NULL")),
        sa.Column("instrument", sa.String(20), nullable=False),
        sa.Column("instrument_version", sa.String(10), nullable=False),
        sa.Column("assessed_on", sa.Date, nullable=False),
        sa.Column("answers", JSON_TYPE, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("subscales", JSON_TYPE, nullable=False),
        sa.Column("severity", sa.String(60)),
        sa.Column("severity_level", sa.Integer),
        sa.Column("flags", JSON_TYPE, nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        _user("entered_by"),
        _user("confirmed_by"),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("risk_status", sa.String(12), nullable=False),
        _user("risk_ack_by"),
        sa.Column("risk_ack_at", sa.DateTime(timezone=True)),
        sa.Column("risk_action", sa.Text),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        _user("withdrawn_by"),
        sa.Column("withdrawal_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("source IN ('clinician', 'staff', 'kiosk')", name="assessment_source_allowed"),
        sa.CheckConstraint("risk_status IN ('none', 'open', 'acknowledged')", name="assessment_risk_status_allowed"),
    )
    op.create_index("ix_assessments_visit_id", "assessments", ["visit_id"])
    op.create_index("ix_assessments_patient_instrument", "assessments",
                    ["patient_id", "instrument", "assessed_on", "id"])
    op.create_index("ix_assessments_open_risk", "assessments", ["patient_id"],
                    postgresql_where=sa.text("risk_status = 'open' AND is_active"),
                    sqlite_where=sa.text("risk_status = 'open' AND is_active"))
    op.create_table(
        "kiosk_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("registered_patient.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("instrument", sa.String(20), nullable=False),
        sa.Column("visit_id", sa.Integer, sa.ForeignKey("patient_visits.id", ondelete="SET NULL")),
        _user("started_by"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.String(20)),
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", ondelete="SET NULL")),
    )


def downgrade():
    op.drop_table("kiosk_sessions")
    op.drop_index("ix_assessments_open_risk", table_name="assessments")
    op.drop_index("ix_assessments_patient_instrument", table_name="assessments")
    op.drop_index("ix_assessments_visit_id", table_name="assessments")
    op.drop_table("assessments")
