"""Patient (Out-Patient Card + Out-Patient Record), visits and stored attachments.

Domain reference: entities.md §2 (registered_patient), §3 (patient_files), §4 (patient_visits).
Columns typed ``text`` in the original stay ``Text`` here; the length caps of the
registration validation (≤20, ≤50, ≤100 …) are enforced by the service, not the DB.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String,
                        Text)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
import sqlalchemy as sa

from ..extensions import db
from ..models_base import TimestampMixin
from ..serialize import column_dict

# `from .models import *` (emrs/models.py) exports only the models.
__all__ = ["Patient", "PatientVisit", "PatientFile"]

SEXES = ("M", "F", "Other")
CATEGORIES = ("GEN", "SC", "ST", "OBC", "EWS")
UNIT_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat")
CASE_COMPLEXITIES = ("simple", "complex")
CLINICS = ("adult", "child")  # child: the Child Guidance Clinic (child and adolescent psychiatry)
PATIENT_FILE_STATUSES = ("none", "created", "stored", "retrieved", "active")
VISIT_TYPES = ("first_visit", "follow_up")
VISIT_STATUSES = ("scheduled", "in_progress", "completed", "cancelled")
OPEN_VISIT_STATUSES = ("scheduled", "in_progress")  # waiting or with the doctor: not yet over

from ..timeutil import today_ist  # noqa: E402  ('today' for OPD purposes is the IST date)


def _in(column: str, values: tuple[str, ...], nullable: bool = False) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


def _unknown():
    return None


def _money():
    """Monthly rupees, numeric(15,2); NULL when not known, never a default of 0. Migration 0016
    drops the old server default on PostgreSQL; SQLite keeps it in the table (dropping it means
    rebuilding the table), so the insert always names the value, NULL included."""
    return mapped_column(Numeric(15, 2), default=_unknown)


class Patient(TimestampMixin, db.Model):
    """One row = the patient's OPD card (step 1) and out-patient record (step 2)."""

    __tablename__ = "registered_patient"

    # --- 2.1 identifiers -------------------------------------------------------------
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cr_no: Mapped[str | None] = mapped_column(String(50), unique=True)
    psy_no: Mapped[str | None] = mapped_column(Text, index=True)
    special_clinic_no: Mapped[str | None] = mapped_column(Text)
    adl_no: Mapped[str | None] = mapped_column(String(50), unique=True)
    file_no: Mapped[str | None] = mapped_column(Text)
    serial_no: Mapped[str | None] = mapped_column(Text)
    # ABHA (Ayushman Bharat Health Account): the 14 digits, unique when present (shown
    # XX-XXXX-XXXX-XXXX), and the ABHA address (name@abdm), stored lower-case.
    abha_number: Mapped[str | None] = mapped_column(String(14))
    abha_address: Mapped[str | None] = mapped_column(String(64))
    # Child and adolescent psychiatry: the clinic the patient belongs to, the Child Guidance
    # Clinic number (unique when present), and the day a child moved to the adult clinic.
    clinic: Mapped[str] = mapped_column(String(10), nullable=False, default="adult", server_default="adult")
    cgc_number: Mapped[str | None] = mapped_column(String(50))
    adult_since: Mapped[dt.date | None] = mapped_column(Date)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)

    # --- 2.2 step 1: out-patient card ---------------------------------------------------
    date: Mapped[dt.date | None] = mapped_column("date", Date)
    name: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    # Consonant-skeleton key of the name for transliteration-tolerant search (names.py).
    name_key: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    # Words of the name and their keys (names.name_tokens), GIN-indexed on PostgreSQL.
    name_words: Mapped[list] = mapped_column(
        sa.JSON().with_variant(ARRAY(Text), "postgresql"), nullable=False, default=list)
    age: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(10))
    contact_number: Mapped[str | None] = mapped_column(Text, index=True)
    father_name: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50))
    department: Mapped[str | None] = mapped_column(Text)
    unit_consit: Mapped[str | None] = mapped_column(Text)
    room_no: Mapped[str | None] = mapped_column(Text)
    unit_days: Mapped[str | None] = mapped_column(Text)
    address_line: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    pin_code: Mapped[str | None] = mapped_column(Text)
    filled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # --- 2.3 step 2: out-patient record -------------------------------------------------
    seen_in_walk_in_on: Mapped[dt.date | None] = mapped_column(Date)
    worked_up_on: Mapped[dt.date | None] = mapped_column(Date)
    age_group: Mapped[str | None] = mapped_column(Text)
    marital_status: Mapped[str | None] = mapped_column(Text)
    year_of_marriage: Mapped[int | None] = mapped_column(Integer)
    no_of_children_male: Mapped[int | None] = mapped_column(Integer, default=0,
                                                            server_default="0")
    no_of_children_female: Mapped[int | None] = mapped_column(Integer, default=0,
                                                              server_default="0")
    occupation: Mapped[str | None] = mapped_column(Text)
    education: Mapped[str | None] = mapped_column(Text)
    patient_income: Mapped[Decimal | None] = _money()
    family_income: Mapped[Decimal | None] = _money()
    religion: Mapped[str | None] = mapped_column(Text)
    family_type: Mapped[str | None] = mapped_column(Text)
    locality: Mapped[str | None] = mapped_column(Text)
    head_name: Mapped[str | None] = mapped_column(Text)
    head_age: Mapped[int | None] = mapped_column(Integer)
    head_relationship: Mapped[str | None] = mapped_column(Text)
    head_education: Mapped[str | None] = mapped_column(Text)
    head_occupation: Mapped[str | None] = mapped_column(Text)
    head_income: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    head_income_band: Mapped[str | None] = mapped_column(Text)  # the child card's monthly band
    distance_from_hospital: Mapped[str | None] = mapped_column(Text)
    mobility: Mapped[str | None] = mapped_column(Text)
    referred_by: Mapped[str | None] = mapped_column(Text)
    # permanent address
    permanent_address_line_1: Mapped[str | None] = mapped_column(Text)
    permanent_address_line_2: Mapped[str | None] = mapped_column(Text)
    permanent_city_town_village: Mapped[str | None] = mapped_column(Text)
    permanent_district: Mapped[str | None] = mapped_column(Text)
    permanent_state: Mapped[str | None] = mapped_column(Text)
    permanent_pin_code: Mapped[str | None] = mapped_column(Text)
    permanent_country: Mapped[str | None] = mapped_column(Text)
    # present address (the UI uses the "_2" set; both exist in the original schema)
    present_address_line_1: Mapped[str | None] = mapped_column(Text)
    present_address_line_2: Mapped[str | None] = mapped_column(Text)
    present_city_town_village: Mapped[str | None] = mapped_column(Text)
    present_city_town_village_2: Mapped[str | None] = mapped_column(Text)
    present_district: Mapped[str | None] = mapped_column(Text)
    present_district_2: Mapped[str | None] = mapped_column(Text)
    present_state: Mapped[str | None] = mapped_column(Text)
    present_state_2: Mapped[str | None] = mapped_column(Text)
    present_pin_code: Mapped[str | None] = mapped_column(Text)
    present_pin_code_2: Mapped[str | None] = mapped_column(Text)
    present_country: Mapped[str | None] = mapped_column(Text)
    present_country_2: Mapped[str | None] = mapped_column(Text)
    local_address: Mapped[str | None] = mapped_column(Text)
    assigned_room: Mapped[str | None] = mapped_column(Text)
    assigned_room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    assigned_doctor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    assigned_doctor_name: Mapped[str | None] = mapped_column(Text)

    # --- clinical safety ------------------------------------------------------------
    allergies: Mapped[str | None] = mapped_column(Text)  # drug allergies, free text

    # --- 2.4 system / derived -----------------------------------------------------------
    has_adl_file: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                               server_default=db.false())
    case_complexity: Mapped[str] = mapped_column(String(20), nullable=False, default="simple",
                                                 server_default="simple")
    file_status: Mapped[str] = mapped_column(String(20), nullable=False, default="none",
                                             server_default="none")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=db.true())  # False = archived
    # Optimistic locking: the service checks and increments it (no version_id_col).
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    __table_args__ = (
        db.CheckConstraint(_in("sex", SEXES, nullable=True), name="sex_allowed"),
        db.CheckConstraint("age IS NULL OR (age BETWEEN 0 AND 150)", name="age_range"),
        db.CheckConstraint(_in("category", CATEGORIES, nullable=True), name="category_allowed"),
        db.CheckConstraint(_in("unit_days", UNIT_DAYS, nullable=True), name="unit_days_allowed"),
        db.CheckConstraint(_in("case_complexity", CASE_COMPLEXITIES),
                           name="case_complexity_allowed"),
        db.CheckConstraint(_in("file_status", PATIENT_FILE_STATUSES),
                           name="file_status_allowed"),
        db.CheckConstraint(_in("clinic", CLINICS), name="clinic_allowed"),
        Index("ix_registered_patient_created_at", "created_at"),
        Index("uq_registered_patient_cgc_number", "cgc_number", unique=True,
              postgresql_where=sa.text("cgc_number IS NOT NULL"),
              sqlite_where=sa.text("cgc_number IS NOT NULL")),
        Index("ix_registered_patient_child", "created_at",
              postgresql_where=sa.text("clinic = 'child'"), sqlite_where=sa.text("clinic = 'child'")),
        Index("uq_registered_patient_abha_number", "abha_number", unique=True,
              postgresql_where=sa.text("abha_number IS NOT NULL"),
              sqlite_where=sa.text("abha_number IS NOT NULL")),
        Index("ix_registered_patient_abha_address", "abha_address",
              postgresql_where=sa.text("abha_address IS NOT NULL"),
              sqlite_where=sa.text("abha_address IS NOT NULL")),
    )

    def to_dict(self) -> dict:
        """All registered_patient columns (api-contract.md §5 adds the joined extras)."""
        return column_dict(self)


class PatientVisit(TimestampMixin, db.Model):
    """One OPD attendance ("session")."""

    __tablename__ = "patient_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    visit_date: Mapped[dt.date] = mapped_column(Date, nullable=False, default=today_ist)
    visit_type: Mapped[str] = mapped_column(String(20), nullable=False)
    has_file: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                           server_default=db.false())
    adl_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("adl_files.id", ondelete="SET NULL", use_alter=True))
    clinical_proforma_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinical_proforma.id", ondelete="SET NULL", use_alter=True))
    assigned_doctor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    room_no: Mapped[str | None] = mapped_column(Text)  # the room's number as printed that day
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    token_no: Mapped[int | None] = mapped_column(Integer)  # the day's token in that room
    visit_status: Mapped[str] = mapped_column(String(20), nullable=False, default="scheduled",
                                              server_default="scheduled")
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        db.CheckConstraint(_in("visit_type", VISIT_TYPES), name="visit_type_allowed"),
        db.CheckConstraint(_in("visit_status", VISIT_STATUSES), name="visit_status_allowed"),
        Index("ix_patient_visits_patient_id_visit_date", "patient_id", "visit_date"),
        Index("ix_patient_visits_visit_date_visit_status", "visit_date", "visit_status"),
        Index("ix_patient_visits_visit_date_room_id", "visit_date", "room_id"),
        db.UniqueConstraint("visit_date", "room_id", "token_no", name="uq_patient_visits_day_room_token"),
    )

    def to_dict(self) -> dict:
        return column_dict(self)


class PatientFile(TimestampMixin, db.Model):
    """One stored attachment file (replaces the original one-row-per-patient text[] list).

    ``stored_name`` is the random on-disk name (never user input); ``original_name`` is
    only ever shown, never used as a path.
    """

    __tablename__ = "patient_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False, index=True)
    # Set when the file is an attachment of the patient's intake record.
    intake_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("adl_files.id", ondelete="SET NULL"), index=True)
    # Set when the file was attached to a follow-up note (migration 0019).
    followup_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_visits.id", ondelete="SET NULL"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    original_name: Mapped[str] = mapped_column(String(255), nullable=False)
    mime_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                             server_default=db.false())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A deleted scan stays on disk, restorable by an Admin, until purged after FILE_RETENTION_DAYS.
    purged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    def to_dict(self) -> dict:
        return column_dict(self)


# The search keys follow the name on every write, whoever writes it.
from sqlalchemy import event as _event  # noqa: E402
from sqlalchemy import inspect as _inspect  # noqa: E402

from .names import name_key as _name_key, name_tokens as _name_tokens  # noqa: E402


@_event.listens_for(Patient, "before_insert")
@_event.listens_for(Patient, "before_update")
def _name_search_keys(_mapper, _connection, target: Patient) -> None:
    state = _inspect(target)
    if state.pending or state.attrs.name.history.has_changes() or not target.name_words:
        target.name_key = _name_key(target.name or "")
        target.name_words = _name_tokens(target.name or "")
