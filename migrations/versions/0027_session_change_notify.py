"""Every process may keep the session rows it has checked (and their users) in memory for a
few seconds (emrs/auth/session_cache.py). So that revocation still reaches every process at
once, PostgreSQL announces every change that could end or alter a session: any UPDATE or
DELETE of a user (deactivation, role, password, e-mail) and any UPDATE of a session's
revocation, expiry, owner or token, or its DELETE, sends ``NOTIFY emrs_sessions, '<user id>'``
when its transaction commits. Triggers, not application code: no code path (nor an
administrator's SQL in psql) can change these rows without the announcement. A session's
activity time (written at most every 30 s per session) is not announced.

Revision ID: 0027
Revises: 0026
"""
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

CHANNEL = "emrs_sessions"  # emrs.auth.session_cache.CHANNEL

FUNCTION = f"""
CREATE OR REPLACE FUNCTION emrs_notify_session_change() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('{CHANNEL}', OLD.id::text);
    ELSE
        PERFORM pg_notify('{CHANNEL}', OLD.user_id::text);
        IF TG_OP = 'UPDATE' AND NEW.user_id IS DISTINCT FROM OLD.user_id THEN
            PERFORM pg_notify('{CHANNEL}', NEW.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

SESSION_CHANGED = ("OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.revoked_reason IS DISTINCT FROM "
                   "NEW.revoked_reason OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.user_id IS "
                   "DISTINCT FROM NEW.user_id OR OLD.token_hash IS DISTINCT FROM NEW.token_hash OR OLD.kind "
                   "IS DISTINCT FROM NEW.kind")


def upgrade():
    if op.get_context().dialect.name != "postgresql":
        return  # SQLite: no process keeps sessions in memory (the cache needs LISTEN/NOTIFY)
    op.execute(FUNCTION)
    op.execute("CREATE TRIGGER users_notify_sessions AFTER UPDATE OR DELETE ON users "
               "FOR EACH ROW EXECUTE FUNCTION emrs_notify_session_change()")
    op.execute(f"CREATE TRIGGER user_sessions_notify_update AFTER UPDATE ON user_sessions "
               f"FOR EACH ROW WHEN ({SESSION_CHANGED}) EXECUTE FUNCTION emrs_notify_session_change()")
    op.execute("CREATE TRIGGER user_sessions_notify_delete AFTER DELETE ON user_sessions "
               "FOR EACH ROW EXECUTE FUNCTION emrs_notify_session_change()")


def downgrade():
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS user_sessions_notify_delete ON user_sessions")
    op.execute("DROP TRIGGER IF EXISTS user_sessions_notify_update ON user_sessions")
    op.execute("DROP TRIGGER IF EXISTS users_notify_sessions ON users")
    op.execute("DROP FUNCTION IF EXISTS emrs_notify_session_change()")
