"""Pending logins (a password step waiting for its second factor) and the last accepted
authenticator time-step per account.

``pending_logins``: one row per login whose password was accepted; a code is accepted only
inside an open, unexpired row (the client holds its random token, stored as an HMAC).
``users.totp_last_step``: each authenticator time-step is accepted once per account.
The same DDL on PostgreSQL and SQLite (add_column of a nullable integer needs no batch mode).

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pending_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("method IN ('email', 'totp')", name=op.f("ck_pending_logins_method_allowed")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_pending_logins_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_logins")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pending_logins_token_hash")),
    )
    op.create_index("ix_pending_logins_user_created", "pending_logins", ["user_id", "created_at"])
    op.add_column("users", sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
    op.drop_index("ix_pending_logins_user_created", table_name="pending_logins")
    op.drop_table("pending_logins")
