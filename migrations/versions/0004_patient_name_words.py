"""Word index for patient names: every prefix of every word of the name plus each
word's transliteration key, GIN-indexed on PostgreSQL. A name search becomes an
indexed array match that can stop at the first page instead of scoring every row that
shares a common surname (the trigram search stays as the fallback for typos inside a
word).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    coltype = postgresql.ARRAY(sa.Text()) if pg else sa.JSON()
    default = sa.text("'{}'::text[]") if pg else sa.text("'[]'")
    op.add_column("registered_patient", sa.Column("name_words", coltype, server_default=default, nullable=False))
    _backfill(pg)
    if pg:
        op.execute("CREATE INDEX ix_patient_name_words ON registered_patient USING gin (name_words)")


def _backfill(pg: bool, batch: int = 5000) -> None:
    from emrs.patients.names import name_tokens

    bind = op.get_bind()
    coltype = postgresql.ARRAY(sa.Text()) if pg else sa.JSON()
    table = sa.table("registered_patient", sa.column("id", sa.Integer), sa.column("name", sa.Text),
                     sa.column("name_words", coltype))
    last = 0
    while True:
        rows = bind.execute(sa.select(table.c.id, table.c.name).where(table.c.id > last)
                            .order_by(table.c.id).limit(batch)).all()
        if not rows:
            break
        bind.execute(table.update().where(table.c.id == sa.bindparam("pid"))
                     .values(name_words=sa.bindparam("toks", type_=coltype)),
                     [{"pid": r.id, "toks": name_tokens(r.name or "")} for r in rows])
        last = rows[-1].id


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_patient_name_words")
        op.drop_column("registered_patient", "name_words")
    else:
        # SQLite 3.35+ drops a column in place (a batch copy would lose the expression indexes).
        op.execute("ALTER TABLE registered_patient DROP COLUMN name_words")
