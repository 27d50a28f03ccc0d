"""Seed the clinical option groups: the defaults of the walk-in proforma's multi-select
fields (options-and-formulary.md §1) as system options (is_system = true, in their
listed order). Idempotent: a label already present in its group (ignoring case) is left
as it is. Downgrade removes the system options only; user-added options stay.

The defaults are a COPY of emrs/data/clinical_options.json as it was when this
migration was written: a migration must not change meaning when that file changes.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DEFAULTS = {
    "mood": [
        "Anxious",
        "Sad",
        "Cheerful",
        "Agitated",
        "Fearful",
        "Irritable"
    ],
    "behaviour": [
        "Suspiciousness",
        "Talking/Smiling to self",
        "Hallucinatory behaviour",
        "Increased goal-directed activity",
        "Compulsions",
        "Apathy",
        "Anhedonia",
        "Avolution",
        "Stupor",
        "Posturing",
        "Stereotypy",
        "Ambitendency",
        "Disinhibition",
        "Impulsivity",
        "Anger outbursts",
        "Suicide/self-harm attempts"
    ],
    "speech": [
        "Irrelevant",
        "Incoherent",
        "Pressure",
        "Alogia",
        "Mutism"
    ],
    "thought": [
        "Reference",
        "Persecution",
        "Grandiose",
        "Love Infidelity",
        "Bizarre",
        "Pessimism",
        "Worthlessness",
        "Guilt",
        "Poverty",
        "Nihilism",
        "Hypochondriasis",
        "Wish to die",
        "Active suicidal ideation",
        "Plans",
        "Worries",
        "Obsessions",
        "Phobias",
        "Panic attacks"
    ],
    "perception": [
        "Hallucination - Auditory",
        "Hallucination - Visual",
        "Hallucination - Tactile",
        "Hallucination - Olfactory",
        "Passivity",
        "Depersonalization",
        "Derealization"
    ],
    "somatic": [
        "Pains",
        "Numbness",
        "Weakness",
        "Fatigue",
        "Tremors",
        "Palpitations",
        "Dyspnoea",
        "Dizziness"
    ],
    "bio_functions": [
        "Sleep",
        "Appetite",
        "Bowel/Bladder",
        "Self-care"
    ],
    "adjustment": [
        "Work output",
        "Socialization"
    ],
    "cognitive_function": [
        "Disorientation",
        "Inattention",
        "Impaired Memory",
        "Intelligence"
    ],
    "fits": [
        "Epileptic",
        "Dissociative",
        "Mixed",
        "Not clear"
    ],
    "sexual_problem": [
        "Dhat",
        "Poor erection",
        "Early ejaculation",
        "Decreased desire",
        "Perversion",
        "Homosexuality",
        "Gender dysphoria"
    ],
    "substance_use": [
        "Alcohol",
        "Opioid",
        "Cannabis",
        "Benzodiazepines",
        "Tobacco"
    ],
    "associated_medical_surgical": [
        "Hypertension",
        "Diabetes",
        "Dyslipidemia",
        "Thyroid dysfunction"
    ],
    "mse_behaviour": [
        "Uncooperative",
        "Unkempt",
        "Fearful",
        "Odd",
        "Suspicious",
        "Retarded",
        "Excited",
        "Aggressive",
        "Apathetic",
        "Catatonic",
        "Demonstrative"
    ],
    "mse_affect": [
        "Sad",
        "Anxious",
        "Elated",
        "Inappropriate",
        "Blunted",
        "Labile"
    ],
    "mse_thought": [
        "Depressive",
        "Suicidal",
        "Obsessions",
        "Hypochondriacal",
        "Preoccupations",
        "Worries"
    ],
    "mse_perception": [
        "Hallucinations - Auditory",
        "Hallucinations - Visual",
        "Hallucinations - Tactile",
        "Hallucinations - Olfactory",
        "Illusions",
        "Depersonalization",
        "Derealization"
    ],
    "mse_cognitive_function": [
        "Impaired",
        "Not impaired"
    ],
    "past_history": [],
    "family_history": []
}

# The LATER extra group (options-and-formulary.md §1).
EXTRA = {
    "nature_of_information": ["Reliable", "Unreliable", "Adequate", "Inadequate"],
}

options = sa.table(
    "clinical_options",
    sa.column("id", sa.Integer),
    sa.column("option_group", sa.String),
    sa.column("option_label", sa.String),
    sa.column("display_order", sa.Integer),
    sa.column("is_active", sa.Boolean),
    sa.column("is_system", sa.Boolean),
)


def upgrade():
    bind = op.get_bind()
    rows = []
    for group, labels in {**DEFAULTS, **EXTRA}.items():
        present = {label.lower() for label in bind.execute(
            sa.select(options.c.option_label).where(options.c.option_group == group)).scalars()}
        top = bind.execute(sa.select(sa.func.max(options.c.display_order))
                           .where(options.c.option_group == group)).scalar() or 0
        for n, label in enumerate(labels, start=1):
            if label.lower() in present:
                continue
            present.add(label.lower())
            rows.append({"option_group": group, "option_label": label, "display_order": top + n,
                         "is_active": True, "is_system": True})
    if rows:
        op.bulk_insert(options, rows)


def downgrade():
    op.execute(options.delete().where(options.c.is_system.is_(True)))
