"""Test builders for the records most tests need: a patient, a walk-in proforma and a
prescription, made either through the JSON API (as an integrator would, with the service's
checks and audit rows) or as rows (fast, for tests about reading them). Users come from the
``make_user`` / ``users`` fixtures in conftest.py.

Every API builder asserts the created status, so a test fails where the record could not be
made, not later on a missing key.
"""
from __future__ import annotations

import itertools
import uuid

from emrs.clinical.models import ClinicalProforma
from emrs.extensions import db
from emrs.patients.models import Patient
from emrs.timeutil import today_ist

RX_LINE = {"medicine": "Escitalopram", "strength": "10 mg", "form": "Tablet", "dosage": "1-0-0",
           "when_to_take": "After Breakfast", "frequency": "Once Daily", "duration": "1 Month"}

_numbers = itertools.count(1)


# ------------------------------------------------------------------ through the API

def register_patient(client, headers, **fields) -> dict:
    """POST /api/patients/register-complete; returns the stored patient as the API answers it."""
    body = {"name": "Gurpreet Kaur", "age": 34, "sex": "F", **fields}
    resp = client.post("/api/patients/register-complete", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["patient"]


def create_proforma(client, headers, patient_id: int, **fields) -> dict:
    """POST /api/clinical-proformas for today's visit; returns the proforma."""
    body = {"patient_id": patient_id, "visit_date": today_ist().isoformat(), "diagnosis": "Depression", **fields}
    resp = client.post("/api/clinical-proformas", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["proforma"]


def create_prescription(client, headers, proforma_id: int, lines=None, **fields) -> dict:
    """POST /api/prescriptions; returns the prescription."""
    body = {"clinical_proforma_id": proforma_id, "prescription": lines or [RX_LINE], **fields}
    resp = client.post("/api/prescriptions", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["prescription"]


def prescribed(client, h, *, patient=None, lines=None, doctor="resident") -> dict:
    """A patient registered by the PWO, seen today by ``doctor``, with a prescription:
    ``{"patient": …, "proforma": …, "prescription": …}``."""
    p = register_patient(client, h["pwo"], **(patient or {}))
    pf = create_proforma(client, h[doctor], p["id"])
    rx = create_prescription(client, h[doctor], pf["id"], lines=lines)
    return {"patient": p, "proforma": pf, "prescription": rx}


# ------------------------------------------------------------------ as rows

def patient_row(name: str = "Gurpreet Kaur", **fields) -> Patient:
    """A committed patient row with a unique CR number (no audit row, no search keys unless given)."""
    row = Patient(**{"name": name, "sex": "F", "age": 30, "cr_no": f"CR{uuid.uuid4().hex[:10]}", **fields})
    db.session.add(row)
    db.session.commit()
    return row


def proforma_row(patient: Patient, author, **fields) -> ClinicalProforma:
    """A committed walk-in proforma row of ``patient`` written by ``author`` (a User)."""
    row = ClinicalProforma(**{"patient_id": patient.id, "filled_by": author.id, "visit_date": today_ist(),
                              "visit_type": "first_visit", "diagnosis": "Depression", **fields})
    db.session.add(row)
    db.session.commit()
    return row


def unique_name(prefix: str = "Test Patient") -> str:
    return f"{prefix} {next(_numbers)}"
