"""What a prescription was written on, as its pages and its PDF show it: the visit's date and
the diagnosis. A prescription written from a proforma shows that proforma's; one written from
a follow-up note (which has no diagnosis of its own) shows the follow-up's date and the
diagnosis of the patient's latest proforma up to that day, if any."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select

from ..extensions import db
from ..followups.models import FollowUp

DIAGNOSIS_FIELDS = ("diagnosis", "icd_code", "icd_title", "icd_system", "icd_version")


@dataclass
class Basis:
    """What a prescription was written on, as its pages and PDF show it: the visit date, and the
    diagnosis — the proforma's own, or for a follow-up the patient's latest proforma's."""
    visit_date: dt.date | None
    proforma: object = None
    followup: object = None

    def __getattr__(self, name):  # diagnosis, icd_code, icd_title, icd_system, icd_version
        if name in DIAGNOSIS_FIELDS:
            return getattr(self.proforma, name, None) if self.proforma is not None else None
        raise AttributeError(name)


def latest_diagnosed_proforma(patient_id: int, on_or_before: dt.date | None = None):
    """The patient's newest active proforma with a diagnosis or an ICD code (up to a day)."""
    from ..clinical.models import ClinicalProforma
    q = select(ClinicalProforma).where(
        ClinicalProforma.patient_id == patient_id, ClinicalProforma.is_active.is_(True),
        or_(ClinicalProforma.diagnosis.is_not(None), ClinicalProforma.icd_code.is_not(None)))
    if on_or_before is not None:
        q = q.where(ClinicalProforma.visit_date <= on_or_before)
    return db.session.execute(q.order_by(ClinicalProforma.visit_date.desc(), ClinicalProforma.id.desc())
                              .limit(1)).scalar_one_or_none()


def basis(row: Prescription) -> Basis:
    from ..clinical.models import ClinicalProforma
    if row.followup_id is not None:
        followup = db.session.get(FollowUp, row.followup_id)
        day = followup.visit_date if followup is not None else None
        return Basis(day, latest_diagnosed_proforma(row.patient_id, day), followup)
    proforma = db.session.get(ClinicalProforma, row.clinical_proforma_id)
    return Basis(proforma.visit_date if proforma is not None else None, proforma)
