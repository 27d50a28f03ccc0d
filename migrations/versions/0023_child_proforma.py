"""Child walk-in clinical proforma in the one proforma table: ``clinical_proforma.form``
('adult' | 'child') and ``child_sections`` (JSON, JSONB on PostgreSQL) holding the child-only
fields of the Child Guidance Clinic's walk-in form (school, neurodevelopmental, behavioural,
emotional, trauma, risk, investigations, treatment plan), validated by the service against the
allow-list in ``emrs/child_clinical/spec.py``.

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    with op.batch_alter_table("clinical_proforma") as batch:
        batch.add_column(sa.Column("form", sa.String(10), nullable=False, server_default="adult"))
        batch.add_column(sa.Column("child_sections", JSON, nullable=False, server_default=sa.text("'{}'")))
        batch.create_check_constraint("form_allowed", "form IN ('adult', 'child')")


def downgrade():
    with op.batch_alter_table("clinical_proforma") as batch:
        batch.drop_constraint("form_allowed", type_="check")
        batch.drop_column("child_sections")
        batch.drop_column("form")
