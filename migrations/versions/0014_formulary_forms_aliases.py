"""Formulary: forms and aliases; duplicate generic names merged.

* ``medicines.forms``: the forms a medicine comes in (tablet, capsule, syrup, injection …), the
  usual one first. Every existing row gets its forms from the table below (a tablet when the
  table does not name it).
* ``medicines.aliases``: other generic names of the same medicine. Duplicates merge into one
  entry: "Lithium" into "Lithium Carbonate", "Benzhexol" into "Trihexyphenidyl", "Valproate",
  "Divalproex", "Valproic Acid" and "Valproate/Divalproex" into "Sodium Valproate". The merged
  rows' brands and strengths join the entry they merge into, their names become its aliases
  (so a line naming them still resolves), and the rows are removed. Prescriptions are not
  touched: their lines keep the text that was written.

The table is a COPY of emrs/data/formulary_structure.json as it was when this migration was
written (a migration must not change meaning when that file changes; a test checks they agree).
Downgrade splits the merged names back into rows of their own (without the brands and
strengths they were given) and drops the two columns.

Revision ID: 0014
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

STRUCTURE = {
    "default_forms": [
        "tablet"
    ],
    "forms": {
        "Fluoxetine": [
            "capsule",
            "tablet"
        ],
        "Duloxetine": [
            "capsule"
        ],
        "Venlafaxine": [
            "tablet",
            "capsule"
        ],
        "Desvenlafaxine": [
            "tablet"
        ],
        "Clomipramine": [
            "tablet",
            "capsule"
        ],
        "Doxepin": [
            "capsule"
        ],
        "Nortriptyline": [
            "tablet",
            "capsule"
        ],
        "Haloperidol": [
            "tablet",
            "injection",
            "drops"
        ],
        "Chlorpromazine": [
            "tablet",
            "injection",
            "syrup"
        ],
        "Fluphenazine": [
            "tablet",
            "depot injection"
        ],
        "Flupentixol": [
            "tablet",
            "depot injection"
        ],
        "Zuclopenthixol": [
            "tablet",
            "depot injection",
            "injection"
        ],
        "Risperidone": [
            "tablet",
            "solution",
            "depot injection"
        ],
        "Olanzapine": [
            "tablet",
            "injection"
        ],
        "Aripiprazole": [
            "tablet",
            "solution",
            "depot injection"
        ],
        "Paliperidone": [
            "tablet",
            "depot injection"
        ],
        "Ziprasidone": [
            "capsule",
            "injection"
        ],
        "Cariprazine": [
            "capsule"
        ],
        "Clozapine": [
            "tablet"
        ],
        "Lithium Carbonate": [
            "tablet"
        ],
        "Sodium Valproate": [
            "tablet",
            "syrup",
            "injection"
        ],
        "Carbamazepine": [
            "tablet",
            "syrup"
        ],
        "Lorazepam": [
            "tablet",
            "injection"
        ],
        "Diazepam": [
            "tablet",
            "injection"
        ],
        "Midazolam": [
            "injection"
        ],
        "Chlordiazepoxide": [
            "capsule",
            "tablet"
        ],
        "Hydroxyzine": [
            "tablet",
            "syrup"
        ],
        "Atomoxetine": [
            "capsule"
        ],
        "Rivastigmine": [
            "capsule",
            "patch"
        ],
        "Galantamine": [
            "tablet",
            "capsule"
        ],
        "Buprenorphine": [
            "tablet",
            "injection"
        ],
        "Methadone": [
            "solution",
            "tablet"
        ],
        "Gabapentin": [
            "capsule",
            "tablet"
        ],
        "Olanzapine + Fluoxetine": [
            "capsule",
            "tablet"
        ],
        "Promazine": [
            "tablet",
            "injection"
        ],
        "Levomepromazine": [
            "tablet",
            "injection"
        ]
    },
    "merge": [
        {
            "into": "Lithium Carbonate",
            "names": [
                "Lithium"
            ]
        },
        {
            "into": "Trihexyphenidyl",
            "names": [
                "Benzhexol"
            ]
        },
        {
            "into": "Sodium Valproate",
            "names": [
                "Valproate/Divalproex",
                "Valproate",
                "Divalproex",
                "Valproic Acid"
            ]
        }
    ]
}

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
medicines = sa.table(
    "medicines",
    sa.column("id", sa.Integer),
    sa.column("generic_name", sa.String),
    sa.column("drug_class", sa.String),
    sa.column("brand_names", JSON),
    sa.column("strengths", JSON),
    sa.column("forms", JSON),
    sa.column("aliases", JSON),
    sa.column("is_active", sa.Boolean),
)


def _union(*lists):
    out, seen = [], set()
    for items in lists:
        for item in items or []:
            if isinstance(item, str) and item.strip() and item.lower() not in seen:
                seen.add(item.lower())
                out.append(item)
    return out


def _keep_name_index() -> None:
    """SQLite's batch mode rebuilds the table and drops expression indexes: put back the
    one-entry-per-name index of migration 0001 (a no-op on PostgreSQL, which alters in place)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE UNIQUE INDEX IF NOT EXISTS uq_medicines_generic_name_ci ON medicines (lower(generic_name))")


def upgrade():
    with op.batch_alter_table("medicines") as batch:
        batch.add_column(sa.Column("forms", JSON, server_default=sa.text("'[]'"), nullable=False))
        batch.add_column(sa.Column("aliases", JSON, server_default=sa.text("'[]'"), nullable=False))
    _keep_name_index()
    bind = op.get_bind()
    rows = {r.generic_name.lower(): dict(r._mapping) for r in bind.execute(sa.select(medicines))}
    for group in STRUCTURE["merge"]:
        names = [group["into"], *group["names"]]
        present = [rows[n.lower()] for n in names if n.lower() in rows]
        if not present:
            continue
        target = rows.get(group["into"].lower()) or present[0]
        others = [r for r in present if r["id"] != target["id"]]
        aliases = _union(target.get("aliases"), [r["generic_name"] for r in others],
                         *[r.get("aliases") for r in others])
        aliases = [a for a in aliases if a.lower() != group["into"].lower()]
        brands = _union(target["brand_names"], *[r["brand_names"] for r in others])
        brands = [b for b in brands if b.lower() != group["into"].lower() and b.lower() not in
                  {a.lower() for a in aliases}]
        values = {"generic_name": group["into"], "aliases": aliases, "brand_names": brands,
                  "strengths": _union(target["strengths"], *[r["strengths"] for r in others]),
                  "drug_class": target["drug_class"] or next((r["drug_class"] for r in others if r["drug_class"]), None),
                  "is_active": any(r["is_active"] for r in present)}
        if others:
            bind.execute(medicines.delete().where(medicines.c.id.in_([r["id"] for r in others])))
        bind.execute(medicines.update().where(medicines.c.id == target["id"]).values(**values))
        for r in others:
            rows.pop(r["generic_name"].lower(), None)
    forms = {k.lower(): v for k, v in STRUCTURE["forms"].items()}
    for r in bind.execute(sa.select(medicines.c.id, medicines.c.generic_name)).all():
        bind.execute(medicines.update().where(medicines.c.id == r.id).values(
            forms=list(forms.get(r.generic_name.lower(), STRUCTURE["default_forms"]))))


def downgrade():
    bind = op.get_bind()
    rows = [dict(r._mapping) for r in bind.execute(sa.select(medicines))]
    present = {r["generic_name"].lower() for r in rows}
    for r in rows:
        for alias in r.get("aliases") or []:
            if alias.lower() in present:
                continue
            present.add(alias.lower())
            bind.execute(medicines.insert().values(generic_name=alias, drug_class=r["drug_class"], brand_names=[],
                                                   strengths=[], forms=[], aliases=[], is_active=r["is_active"]))
    with op.batch_alter_table("medicines") as batch:
        batch.drop_column("aliases")
        batch.drop_column("forms")
    _keep_name_index()
