"""The printable prescription: gathers what the PDF shows and renders it (prescriptions/pdf.py)."""
from __future__ import annotations

from ..auth.models import User
from ..errors import DomainError
from ..clinical.models import ClinicalProforma
from ..extensions import db
from ..patients.models import Patient


NO_MEDICINE = "This prescription has no medicine, so it is not printed: add a medicine first"


def pdf_for(row, size: str | None = None) -> tuple[bytes, str]:
    from . import pdf
    if not any(isinstance(l, dict) and str(l.get("medicine") or "").strip() for l in row.lines or []):
        raise DomainError(NO_MEDICINE, status=409, code="NO_MEDICINE")
    proforma = db.session.get(ClinicalProforma, row.clinical_proforma_id)
    patient = db.session.get(Patient, row.patient_id)
    # The signer of this version: whoever made the current version signs what is printed.
    doctor = db.session.get(User, row.signer_id) if row.signer_id else None
    page_size = size.upper() if isinstance(size, str) and size.upper() in ("A4", "A5") else None
    data = pdf.render(row, proforma, patient, doctor, page_size=page_size)
    name = f"prescription-{patient.cr_no or patient.id}-{proforma.visit_date.isoformat()}.pdf"
    return data, name
