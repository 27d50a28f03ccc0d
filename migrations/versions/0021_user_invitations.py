"""Account set-up by invitation: table ``user_invitations`` (the set-up link's token as an
HMAC, 24 h, single use) and ``users.password_set_at`` (None: invited, no password chosen yet,
cannot sign in). Existing accounts chose their password already: set to their creation time.

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("password_set_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE users SET password_set_at = COALESCE(created_at, CURRENT_TIMESTAMP)")
    op.create_table(
        "user_invitations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_user_invitations_user_id", "user_invitations", ["user_id"])


def downgrade():
    op.drop_index("ix_user_invitations_user_id", table_name="user_invitations")
    op.drop_table("user_invitations")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_set_at")
