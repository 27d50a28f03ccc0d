"""Patients: the out-patient card and record, search, visits. The one place the
rules live; pages (patients/views.py) and the API (api/patients.py) call these."""
from __future__ import annotations

from sqlalchemy import select

from ..audit import service as audit
from ..errors import NotFound
from ..extensions import db
from .models import Patient


def get_patient(patient_id: int, *, audit_action: str | None = "patient_view",
                include_archived: bool = False) -> Patient:
    """The patient, or NotFound("Patient not found"). Audits the read unless audit_action is None."""
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None or (not patient.is_active and not include_archived):
        raise NotFound("Patient not found")
    if audit_action:
        audit.record(audit_action, "registered_patient", patient.id, patient_id=patient.id)
    return patient
