"""Names in Devanagari and Gurmukhi get search keys; CR/PSY/ADL numbers are found by
their body and by their trailing characters.

1. Search keys of names written in Devanagari or Gurmukhi. Until now a name such as
   "ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ" had an empty ``name_key`` and only empty words in ``name_words``
   (the key kept ASCII letters only), so the word index could not find it. The rule lives
   in emrs/patients/names.py (transliteration with indic-transliteration, then the usual
   Latin key); this recomputes ``name_key`` and ``name_words`` of the patients whose name
   has a Devanagari or Gurmukhi character — the keys of every other name are unchanged.
   Batched by id, 5,000 rows a statement: on PostgreSQL the rows are picked by a regular
   expression on the server (one pass over the table) and each batch is one UPDATE … FROM
   unnest(…); on SQLite the names are read in batches and only the matching rows updated.
   Measured at 1M patients of which 70,000 with such names: see bench/README.md.

2. PostgreSQL: one b-tree per number column on the reversed body of the number
   (upper-case, the letters in front and separators removed: CR2025000123 -> 2025000123,
   reversed 3210005202), text_pattern_ops. "2025000123" (the body) and "0123" (any 4+
   trailing characters) are then an equality or a LIKE 'prefix%' on the reversed body, an
   index look-up. The expression must stay exactly as patients.search._number_body_match
   writes it. SQLite has no such index (the service calls emrs_number_body(), a function
   registered on each connection).

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NUMBER_COLUMNS = ("cr_no", "psy_no", "adl_no")
BODY = "reverse(regexp_replace(upper({col}), '^[A-Z]+|[^0-9A-Z]', '', 'g'))"
# A Devanagari (U+0900–U+097F) or Gurmukhi (U+0A00–U+0A7F) character.
INDIC_PATTERN = "[\u0900-\u097f\u0a00-\u0a7f]"
BATCH = 5000


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    _backfill(pg)
    if pg:
        for col in NUMBER_COLUMNS:
            op.execute(f"CREATE INDEX ix_patient_{col}_body_rev ON registered_patient "
                       f"({BODY.format(col=col)} text_pattern_ops)")
        op.execute("ANALYZE registered_patient (name_key, name_words)")


def _backfill(pg: bool) -> None:
    import re

    from emrs.patients.names import name_key, name_tokens

    bind = op.get_bind()
    last = 0
    if pg:
        pick = sa.text("SELECT id, name FROM registered_patient WHERE id > :last AND name ~ :pattern "
                       "ORDER BY id LIMIT :batch")
        # name_words travels as one space-separated string per row (a token has no space).
        put = sa.text("UPDATE registered_patient AS p SET name_key = v.k, name_words = string_to_array(v.w, ' ') "
                      "FROM unnest(CAST(:ids AS integer[]), CAST(:keys AS text[]), CAST(:words AS text[])) "
                      "AS v(id, k, w) WHERE p.id = v.id")
        while True:
            rows = bind.execute(pick, {"last": last, "pattern": INDIC_PATTERN, "batch": BATCH}).all()
            if not rows:
                break
            bind.execute(put, {"ids": [r.id for r in rows], "keys": [name_key(r.name or "") for r in rows],
                               "words": [" ".join(name_tokens(r.name or "")) for r in rows]})
            last = rows[-1].id
        return
    indic = re.compile(INDIC_PATTERN)
    table = sa.table("registered_patient", sa.column("id", sa.Integer), sa.column("name", sa.Text),
                     sa.column("name_key", sa.Text), sa.column("name_words", sa.JSON()))
    while True:
        rows = bind.execute(sa.select(table.c.id, table.c.name).where(table.c.id > last)
                            .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            break
        native = [r for r in rows if indic.search(r.name or "")]  # Latin names keep their keys
        if native:
            bind.execute(table.update().where(table.c.id == sa.bindparam("pid"))
                         .values(name_key=sa.bindparam("key"), name_words=sa.bindparam("toks", type_=sa.JSON())),
                         [{"pid": r.id, "key": name_key(r.name), "toks": name_tokens(r.name)} for r in native])
        last = rows[-1].id


def downgrade():
    # The keys of Devanagari/Gurmukhi names stay (the older code simply does not use them).
    if op.get_bind().dialect.name == "postgresql":
        for col in NUMBER_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_patient_{col}_body_rev")
