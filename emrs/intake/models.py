"""Out-Patient Intake Record (the original "ADL file", table ``adl_files``) and the
movements of its physical paper file (entities.md §7, roles-and-workflow.md §4.3).

The clinical work-up fields are listed once more, by section, in ``WORKUP_SECTIONS``
so forms and validation can be built from them; a check at the bottom of this module
keeps that list and the table's columns in step.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin, utcnow
from ..serialize import column_dict

# `from .models import *` (emrs/models.py) exports only the models.
__all__ = ["IntakeRecord", "FileMovement"]

JSON_TYPE = db.JSON().with_variant(JSONB(), "postgresql")

INTAKE_FILE_STATUSES = ("created", "stored", "retrieved", "active", "archived")
MOVEMENT_TYPES = ("created", "stored", "retrieved", "returned", "archived")

# (key, label, field names) in the order of the paper form.
WORKUP_SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("informants", "Informants", (
        "informants",
    )),
    ("complaints", "Complaints & duration", (
        "complaints_patient", "complaints_informant",
        "onset_duration", "precipitating_factor", "course",
    )),
    ("history_present_illness", "History of present illness", (
        "history_narrative", "history_specific_enquiry", "history_drug_intake",
        "history_treatment_place", "history_treatment_dates", "history_treatment_drugs",
        "history_treatment_response",
    )),
    ("past_history", "Past history", (
        "past_history_medical",
        "past_history_psychiatric_dates", "past_history_psychiatric_diagnosis",
        "past_history_psychiatric_treatment", "past_history_psychiatric_interim",
        "past_history_psychiatric_recovery",
    )),
    ("family_history", "Family history", (
        "family_history_father_age", "family_history_father_education",
        "family_history_father_occupation", "family_history_father_personality",
        "family_history_father_deceased", "family_history_father_death_age",
        "family_history_father_death_date", "family_history_father_death_cause",
        "family_history_mother_age", "family_history_mother_education",
        "family_history_mother_occupation", "family_history_mother_personality",
        "family_history_mother_deceased", "family_history_mother_death_age",
        "family_history_mother_death_date", "family_history_mother_death_cause",
        "family_history_siblings", "family_history",
    )),
    ("home_development", "Home situation & early development", (
        "home_situation_childhood", "home_situation_parents_relationship",
        "home_situation_socioeconomic", "home_situation_interpersonal",
        "personal_birth_date", "personal_birth_place", "personal_delivery_type",
        "personal_complications_prenatal", "personal_complications_natal",
        "personal_complications_postnatal",
        "development_weaning_age", "development_first_words", "development_three_words",
        "development_walking", "development_neurotic_traits", "development_nail_biting",
        "development_bedwetting", "development_phobias", "development_childhood_illness",
    )),
    ("education", "Education", (
        "education_start_age", "education_highest_class", "education_performance",
        "education_disciplinary", "education_peer_relationship", "education_hobbies",
        "education_special_abilities", "education_discontinue_reason",
    )),
    ("occupation", "Occupation", (
        "occupation_jobs",
    )),
    ("sexual_marital", "Sexual & marital history", (
        "sexual_menarche_age", "sexual_menarche_reaction", "sexual_education",
        "sexual_masturbation", "sexual_contact", "sexual_premarital_extramarital",
        "sexual_marriage_arranged", "sexual_marriage_date", "sexual_spouse_age",
        "sexual_spouse_occupation", "sexual_adjustment_general", "sexual_adjustment_sexual",
        "sexual_children", "sexual_problems",
    )),
    ("religion", "Religion", (
        "religion_type", "religion_participation", "religion_changes",
    )),
    ("living_situation", "Living situation", (
        "living_residents", "living_income_sharing", "living_expenses", "living_kitchen",
        "living_domestic_conflicts", "living_social_class", "living_inlaws",
    )),
    ("premorbid_personality", "Premorbid personality", (
        "premorbid_personality_passive_active", "premorbid_personality_assertive",
        "premorbid_personality_introvert_extrovert", "premorbid_personality_traits",
        "premorbid_personality_hobbies", "premorbid_personality_habits",
        "premorbid_personality_alcohol_drugs",
    )),
    ("physical_examination", "Physical examination", (
        "physical_appearance", "physical_body_build",
        "physical_pallor", "physical_icterus", "physical_oedema", "physical_lymphadenopathy",
        "physical_pulse", "physical_bp", "physical_height", "physical_weight",
        "physical_waist", "physical_fundus",
        "physical_cvs_apex", "physical_cvs_regularity", "physical_cvs_heart_sounds",
        "physical_cvs_murmurs",
        "physical_chest_expansion", "physical_chest_percussion", "physical_chest_adventitious",
        "physical_abdomen_tenderness", "physical_abdomen_mass", "physical_abdomen_bowel_sounds",
        "physical_cns_cranial", "physical_cns_motor_sensory", "physical_cns_rigidity",
        "physical_cns_involuntary", "physical_cns_superficial_reflexes", "physical_cns_dtrs",
        "physical_cns_plantar", "physical_cns_cerebellar",
    )),
    ("mental_status_examination", "Mental status examination", (
        "mse_general_demeanour", "mse_general_tidy", "mse_general_awareness",
        "mse_general_cooperation",
        "mse_psychomotor_verbalization", "mse_psychomotor_pressure", "mse_psychomotor_tension",
        "mse_psychomotor_posture", "mse_psychomotor_mannerism", "mse_psychomotor_catatonic",
        "mse_affect_subjective", "mse_affect_tone", "mse_affect_resting",
        "mse_affect_fluctuation",
        "mse_thought_flow", "mse_thought_form", "mse_thought_content", "mse_thought_possession",
        "mse_cognitive_consciousness", "mse_cognitive_orientation_time",
        "mse_cognitive_orientation_place", "mse_cognitive_orientation_person",
        "mse_cognitive_memory_immediate", "mse_cognitive_memory_recent",
        "mse_cognitive_memory_remote", "mse_cognitive_subtraction", "mse_cognitive_digit_span",
        "mse_cognitive_counting", "mse_cognitive_general_knowledge",
        "mse_cognitive_calculation", "mse_cognitive_similarities", "mse_cognitive_proverbs",
        "mse_insight_understanding", "mse_insight_judgement",
    )),
    ("diagnostic_formulation", "Diagnostic formulation", (
        "diagnostic_formulation_summary", "diagnostic_formulation_features",
        "diagnostic_formulation_psychodynamic",
    )),
    ("final_assessment", "Final assessment", (
        "provisional_diagnosis", "treatment_plan", "consultant_comments",
    )),
]

WORKUP_FIELDS: tuple[str, ...] = tuple(f for _, _, fields in WORKUP_SECTIONS for f in fields)

# Typed work-up fields (every other work-up field is free text).
JSON_ARRAY_FIELDS = (
    "informants", "complaints_patient", "complaints_informant", "family_history_siblings",
    "occupation_jobs", "sexual_children", "living_residents", "living_inlaws",
    "premorbid_personality_traits",
)
DATE_FIELDS = (
    "history_treatment_dates", "past_history_psychiatric_dates",
    "family_history_father_death_date", "family_history_mother_death_date",
    "personal_birth_date", "sexual_marriage_date",
)
INT_FIELDS = (
    "family_history_father_age", "family_history_father_death_age",
    "family_history_mother_age", "family_history_mother_death_age",
    "sexual_spouse_age",
)
BOOL_FIELDS = (
    "family_history_father_deceased", "family_history_mother_deceased",
    "physical_pallor", "physical_icterus", "physical_oedema", "physical_lymphadenopathy",
)
TEXT_FIELDS = tuple(
    f for f in WORKUP_FIELDS
    if f not in JSON_ARRAY_FIELDS + DATE_FIELDS + INT_FIELDS + BOOL_FIELDS
)


def _text():
    return mapped_column(Text)


def _date():
    return mapped_column(Date)


def _int():
    return mapped_column(Integer)


def _flag():
    return mapped_column(Boolean, nullable=False, default=False, server_default=db.false())


def _json_array():
    return mapped_column(JSON_TYPE, nullable=False, default=list, server_default=sa.text("'[]'"))


class IntakeRecord(TimestampMixin, db.Model):
    """The detailed psychiatric work-up of a complex case + its physical case file."""

    __tablename__ = "adl_files"

    # ===== 7.1 file management =========================================================
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    adl_no: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    clinical_proforma_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinical_proforma.id", ondelete="SET NULL"))
    file_status: Mapped[str] = mapped_column(String(20), nullable=False, default="created",
                                             server_default="created")
    physical_file_location: Mapped[str | None] = _text()
    file_created_date: Mapped[dt.date] = mapped_column(Date, nullable=False, index=True)
    last_accessed_date: Mapped[dt.date | None] = _date()
    last_accessed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    total_visits: Mapped[int] = mapped_column(Integer, nullable=False, default=1,
                                              server_default="1")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=db.true())
    notes: Mapped[str | None] = _text()
    # Optimistic locking: the service checks and increments it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    # 'adult' (the columns below) or 'cap': a child's CAP detailed work-up, whose fields live
    # in cap_sections, checked against the allow-list in emrs/cap/spec.py (migration 0024).
    form: Mapped[str] = mapped_column(String(10), nullable=False, default="adult", server_default="adult")
    cap_sections: Mapped[dict] = mapped_column(JSON_TYPE, nullable=False, default=dict,
                                               server_default=sa.text("'{}'"))

    # ===== 7.2 clinical work-up =========================================================
    # --- informants
    informants: Mapped[list] = _json_array()
    # --- complaints & duration
    complaints_patient: Mapped[list] = _json_array()
    complaints_informant: Mapped[list] = _json_array()
    onset_duration: Mapped[str | None] = _text()
    precipitating_factor: Mapped[str | None] = _text()
    course: Mapped[str | None] = _text()
    # --- history of present illness
    history_narrative: Mapped[str | None] = _text()
    history_specific_enquiry: Mapped[str | None] = _text()
    history_drug_intake: Mapped[str | None] = _text()
    history_treatment_place: Mapped[str | None] = _text()
    history_treatment_dates: Mapped[dt.date | None] = _date()
    history_treatment_drugs: Mapped[str | None] = _text()
    history_treatment_response: Mapped[str | None] = _text()
    # --- past history
    past_history_medical: Mapped[str | None] = _text()
    past_history_psychiatric_dates: Mapped[dt.date | None] = _date()
    past_history_psychiatric_diagnosis: Mapped[str | None] = _text()
    past_history_psychiatric_treatment: Mapped[str | None] = _text()
    past_history_psychiatric_interim: Mapped[str | None] = _text()
    past_history_psychiatric_recovery: Mapped[str | None] = _text()
    # --- family history
    family_history_father_age: Mapped[int | None] = _int()
    family_history_father_education: Mapped[str | None] = _text()
    family_history_father_occupation: Mapped[str | None] = _text()
    family_history_father_personality: Mapped[str | None] = _text()
    family_history_father_deceased: Mapped[bool] = _flag()
    family_history_father_death_age: Mapped[int | None] = _int()
    family_history_father_death_date: Mapped[dt.date | None] = _date()
    family_history_father_death_cause: Mapped[str | None] = _text()
    family_history_mother_age: Mapped[int | None] = _int()
    family_history_mother_education: Mapped[str | None] = _text()
    family_history_mother_occupation: Mapped[str | None] = _text()
    family_history_mother_personality: Mapped[str | None] = _text()
    family_history_mother_deceased: Mapped[bool] = _flag()
    family_history_mother_death_age: Mapped[int | None] = _int()
    family_history_mother_death_date: Mapped[dt.date | None] = _date()
    family_history_mother_death_cause: Mapped[str | None] = _text()
    family_history_siblings: Mapped[list] = _json_array()
    family_history: Mapped[str | None] = _text()
    # --- home situation & early development
    home_situation_childhood: Mapped[str | None] = _text()
    home_situation_parents_relationship: Mapped[str | None] = _text()
    home_situation_socioeconomic: Mapped[str | None] = _text()
    home_situation_interpersonal: Mapped[str | None] = _text()
    personal_birth_date: Mapped[dt.date | None] = _date()
    personal_birth_place: Mapped[str | None] = _text()
    personal_delivery_type: Mapped[str | None] = _text()  # Normal / Forceps / Caesarean
    personal_complications_prenatal: Mapped[str | None] = _text()
    personal_complications_natal: Mapped[str | None] = _text()
    personal_complications_postnatal: Mapped[str | None] = _text()
    development_weaning_age: Mapped[str | None] = _text()
    development_first_words: Mapped[str | None] = _text()
    development_three_words: Mapped[str | None] = _text()
    development_walking: Mapped[str | None] = _text()
    development_neurotic_traits: Mapped[str | None] = _text()
    development_nail_biting: Mapped[str | None] = _text()
    development_bedwetting: Mapped[str | None] = _text()
    development_phobias: Mapped[str | None] = _text()
    development_childhood_illness: Mapped[str | None] = _text()
    # --- education
    education_start_age: Mapped[str | None] = _text()
    education_highest_class: Mapped[str | None] = _text()
    education_performance: Mapped[str | None] = _text()
    education_disciplinary: Mapped[str | None] = _text()
    education_peer_relationship: Mapped[str | None] = _text()
    education_hobbies: Mapped[str | None] = _text()
    education_special_abilities: Mapped[str | None] = _text()
    education_discontinue_reason: Mapped[str | None] = _text()
    # --- occupation
    occupation_jobs: Mapped[list] = _json_array()
    # --- sexual & marital history
    sexual_menarche_age: Mapped[str | None] = _text()
    sexual_menarche_reaction: Mapped[str | None] = _text()
    sexual_education: Mapped[str | None] = _text()
    sexual_masturbation: Mapped[str | None] = _text()
    sexual_contact: Mapped[str | None] = _text()
    sexual_premarital_extramarital: Mapped[str | None] = _text()
    sexual_marriage_arranged: Mapped[str | None] = _text()  # Arranged / Love / Other
    sexual_marriage_date: Mapped[dt.date | None] = _date()
    sexual_spouse_age: Mapped[int | None] = _int()
    sexual_spouse_occupation: Mapped[str | None] = _text()
    sexual_adjustment_general: Mapped[str | None] = _text()
    sexual_adjustment_sexual: Mapped[str | None] = _text()
    sexual_children: Mapped[list] = _json_array()
    sexual_problems: Mapped[str | None] = _text()
    # --- religion
    religion_type: Mapped[str | None] = _text()
    religion_participation: Mapped[str | None] = _text()
    religion_changes: Mapped[str | None] = _text()
    # --- living situation
    living_residents: Mapped[list] = _json_array()
    living_income_sharing: Mapped[str | None] = _text()
    living_expenses: Mapped[str | None] = _text()
    living_kitchen: Mapped[str | None] = _text()
    living_domestic_conflicts: Mapped[str | None] = _text()
    living_social_class: Mapped[str | None] = _text()
    living_inlaws: Mapped[list] = _json_array()
    # --- premorbid personality
    premorbid_personality_passive_active: Mapped[str | None] = _text()
    premorbid_personality_assertive: Mapped[str | None] = _text()
    premorbid_personality_introvert_extrovert: Mapped[str | None] = _text()
    premorbid_personality_traits: Mapped[list] = _json_array()
    premorbid_personality_hobbies: Mapped[str | None] = _text()
    premorbid_personality_habits: Mapped[str | None] = _text()
    premorbid_personality_alcohol_drugs: Mapped[str | None] = _text()
    # --- physical examination
    physical_appearance: Mapped[str | None] = _text()
    physical_body_build: Mapped[str | None] = _text()
    physical_pallor: Mapped[bool] = _flag()
    physical_icterus: Mapped[bool] = _flag()
    physical_oedema: Mapped[bool] = _flag()
    physical_lymphadenopathy: Mapped[bool] = _flag()
    physical_pulse: Mapped[str | None] = _text()
    physical_bp: Mapped[str | None] = _text()
    physical_height: Mapped[str | None] = _text()
    physical_weight: Mapped[str | None] = _text()
    physical_waist: Mapped[str | None] = _text()
    physical_fundus: Mapped[str | None] = _text()
    physical_cvs_apex: Mapped[str | None] = _text()
    physical_cvs_regularity: Mapped[str | None] = _text()
    physical_cvs_heart_sounds: Mapped[str | None] = _text()
    physical_cvs_murmurs: Mapped[str | None] = _text()
    physical_chest_expansion: Mapped[str | None] = _text()
    physical_chest_percussion: Mapped[str | None] = _text()
    physical_chest_adventitious: Mapped[str | None] = _text()
    physical_abdomen_tenderness: Mapped[str | None] = _text()
    physical_abdomen_mass: Mapped[str | None] = _text()
    physical_abdomen_bowel_sounds: Mapped[str | None] = _text()
    physical_cns_cranial: Mapped[str | None] = _text()
    physical_cns_motor_sensory: Mapped[str | None] = _text()
    physical_cns_rigidity: Mapped[str | None] = _text()
    physical_cns_involuntary: Mapped[str | None] = _text()
    physical_cns_superficial_reflexes: Mapped[str | None] = _text()
    physical_cns_dtrs: Mapped[str | None] = _text()
    physical_cns_plantar: Mapped[str | None] = _text()
    physical_cns_cerebellar: Mapped[str | None] = _text()
    # --- mental status examination
    mse_general_demeanour: Mapped[str | None] = _text()
    mse_general_tidy: Mapped[str | None] = _text()
    mse_general_awareness: Mapped[str | None] = _text()
    mse_general_cooperation: Mapped[str | None] = _text()
    mse_psychomotor_verbalization: Mapped[str | None] = _text()
    mse_psychomotor_pressure: Mapped[str | None] = _text()
    mse_psychomotor_tension: Mapped[str | None] = _text()
    mse_psychomotor_posture: Mapped[str | None] = _text()
    mse_psychomotor_mannerism: Mapped[str | None] = _text()
    mse_psychomotor_catatonic: Mapped[str | None] = _text()
    mse_affect_subjective: Mapped[str | None] = _text()
    mse_affect_tone: Mapped[str | None] = _text()
    mse_affect_resting: Mapped[str | None] = _text()
    mse_affect_fluctuation: Mapped[str | None] = _text()
    mse_thought_flow: Mapped[str | None] = _text()
    mse_thought_form: Mapped[str | None] = _text()
    mse_thought_content: Mapped[str | None] = _text()
    mse_thought_possession: Mapped[str | None] = _text()
    mse_cognitive_consciousness: Mapped[str | None] = _text()
    mse_cognitive_orientation_time: Mapped[str | None] = _text()
    mse_cognitive_orientation_place: Mapped[str | None] = _text()
    mse_cognitive_orientation_person: Mapped[str | None] = _text()
    mse_cognitive_memory_immediate: Mapped[str | None] = _text()
    mse_cognitive_memory_recent: Mapped[str | None] = _text()
    mse_cognitive_memory_remote: Mapped[str | None] = _text()
    mse_cognitive_subtraction: Mapped[str | None] = _text()
    mse_cognitive_digit_span: Mapped[str | None] = _text()
    mse_cognitive_counting: Mapped[str | None] = _text()
    mse_cognitive_general_knowledge: Mapped[str | None] = _text()
    mse_cognitive_calculation: Mapped[str | None] = _text()
    mse_cognitive_similarities: Mapped[str | None] = _text()
    mse_cognitive_proverbs: Mapped[str | None] = _text()
    mse_insight_understanding: Mapped[str | None] = _text()
    mse_insight_judgement: Mapped[str | None] = _text()
    # --- diagnostic formulation
    diagnostic_formulation_summary: Mapped[str | None] = _text()
    diagnostic_formulation_features: Mapped[str | None] = _text()
    diagnostic_formulation_psychodynamic: Mapped[str | None] = _text()
    # --- final assessment
    provisional_diagnosis: Mapped[str | None] = _text()
    treatment_plan: Mapped[str | None] = _text()
    consultant_comments: Mapped[str | None] = _text()

    __table_args__ = (
        # One intake record per patient.
        db.UniqueConstraint("patient_id"),
        db.CheckConstraint(
            "file_status IN (" + ", ".join(f"'{s}'" for s in INTAKE_FILE_STATUSES) + ")",
            name="file_status_allowed"),
        db.CheckConstraint("form IN ('adult', 'cap')", name="form_allowed"),
        Index("ix_adl_files_file_status_is_active", "file_status", "is_active"),
    )

    def to_dict(self) -> dict:
        """All adl_files columns (read endpoints add patient/creator/doctor names), but the
        CAP work-up's fields: /api/child-cap-workup gives those (emrs/cap/service.py)."""
        out = column_dict(self)
        out.pop("cap_sections", None)
        return out


class FileMovement(db.Model):
    """One move of the physical intake file (Record Room -> Doctor Office, ...).

    Rows are never edited, so there is ``created_at`` but no ``updated_at``.
    """

    __tablename__ = "file_movements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adl_file_id: Mapped[int] = mapped_column(
        ForeignKey("adl_files.id", ondelete="CASCADE"), nullable=False)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    moved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    movement_type: Mapped[str] = mapped_column(String(20), nullable=False)
    from_location: Mapped[str | None] = _text()
    to_location: Mapped[str | None] = _text()
    movement_date: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, server_default=sa.func.now())
    notes: Mapped[str | None] = _text()
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, server_default=sa.func.now())

    __table_args__ = (
        db.CheckConstraint(
            "movement_type IN (" + ", ".join(f"'{m}'" for m in MOVEMENT_TYPES) + ")",
            name="movement_type_allowed"),
        Index("ix_file_movements_adl_file_id_movement_date", "adl_file_id", "movement_date"),
    )

    def to_dict(self) -> dict:
        return column_dict(self)


def _check_workup_fields() -> None:
    """WORKUP_FIELDS and the typed tuples must name real columns of the right kind."""
    columns = IntakeRecord.__table__.columns
    names = set(columns.keys())
    missing = [f for f in WORKUP_FIELDS if f not in names]
    dupes = {f for f in WORKUP_FIELDS if WORKUP_FIELDS.count(f) > 1}
    kinds = {JSON_ARRAY_FIELDS: sa.JSON, DATE_FIELDS: sa.Date, INT_FIELDS: sa.Integer,
             BOOL_FIELDS: sa.Boolean, TEXT_FIELDS: sa.Text}
    wrong = [f for group, kind in kinds.items() for f in group
             if f not in WORKUP_FIELDS or f not in names
             or not isinstance(columns[f].type, kind)]
    file_fields = {"id", "patient_id", "adl_no", "created_by", "clinical_proforma_id",
                   "file_status", "physical_file_location", "file_created_date",
                   "last_accessed_date", "last_accessed_by", "total_visits", "is_active",
                   "notes", "version", "created_at", "updated_at", "form", "cap_sections"}
    unlisted = names - set(WORKUP_FIELDS) - file_fields
    if missing or dupes or wrong or unlisted:
        raise RuntimeError(f"intake WORKUP_FIELDS out of step with adl_files: missing={missing} "
                           f"dupes={dupes} wrong_type={wrong} unlisted={sorted(unlisted)}")


_check_workup_fields()
