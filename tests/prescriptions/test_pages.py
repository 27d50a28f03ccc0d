"""The prescription editor, history and print pages."""
from __future__ import annotations

import re

from sqlalchemy import select

from emrs.clinical.models import ClinicalProforma
from emrs.extensions import db
from emrs.patients.models import Patient
from emrs.prescriptions.models import Prescription, PrescriptionTemplate


def _proforma(users, day="2026-11-20", allergies=None):
    p = Patient(name="Charanjit Singh", sex="M", age=58, cr_no=f"CRTEST3{day.replace('-', '')}",
                allergies=allergies)
    db.session.add(p)
    db.session.flush()
    pf = ClinicalProforma(patient_id=p.id, filled_by=users["resident"].id, visit_date=__import__("datetime").date.fromisoformat(day),
                          visit_type="first_visit", diagnosis="Depression", icd_code="F32.1")
    db.session.add(pf)
    db.session.commit()
    return p, pf


def _lines(*meds):
    """The editor's fields: "Escitalopram 10 mg" goes in as medicine + strength, the duration as
    number + unit (the form the page posts)."""
    data = {}
    for i, (med, dose) in enumerate(meds):
        name, strength = (med.rsplit(" ", 2)[0], " ".join(med.rsplit(" ", 2)[1:])) if med.endswith(" mg") else (med, "")
        data[f"lines-{i}-medicine"] = name
        data[f"lines-{i}-strength"] = strength
        data[f"lines-{i}-dosage"] = dose
        data[f"lines-{i}-when_to_take"] = "After Food"
        data[f"lines-{i}-duration_value"] = "1"
        data[f"lines-{i}-duration_unit"] = "months"
    return data


def _names(row):
    from emrs.prescriptions.service import line_name
    return [line_name(l) for l in row.lines]


def test_prescribe_view_and_history(role_client, users):
    p, pf = _proforma(users)
    c = role_client("resident")
    page = c.get(f"/prescriptions/proforma/{pf.id}").get_data(as_text=True)
    assert 'name="lines-0-medicine"' in page and 'list="dl-dosage"' in page and "Add a medicine" in page
    assert 'name="lines-0-strength"' in page and 'name="lines-0-form"' in page and 'name="lines-0-duration_value"' in page
    resp = c.post(f"/prescriptions/proforma/{pf.id}", data={**_lines(("Escitalopram 10 mg", "0-0-1"),
                                                                       ("Clonazepam 0.25 mg", "0-0-1")),
                                                             "follow_up_date": "2026-12-20", "advice": "Walk daily"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    row = db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == pf.id)).scalar_one()
    assert _names(row) == ["Escitalopram 10 mg", "Clonazepam 0.25 mg"]
    assert row.lines[0]["medicine"] == "Escitalopram" and row.lines[0]["strength"] == "10 mg"
    assert row.lines[0]["duration"] == "1 Month" and row.lines[0]["quantity"] == "30"  # 0-0-1 for 30 days
    show = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Escitalopram 10 mg" in show and "Walk daily" in show and "Print (A5 PDF)" in show
    assert re.search(r"[\u0900-\u097F]", show) and re.search(r"[\u0A00-\u0A7F]", show)  # Hindi and Punjabi lines
    pdf = c.get(f"/prescriptions/{row.id}/pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "Prescription ·" in c.get(f"/patients/{p.id}").get_data(as_text=True)


def test_repeat_last_and_differences(role_client, users):
    p, pf1 = _proforma(users)
    c = role_client("resident")
    c.post(f"/prescriptions/proforma/{pf1.id}", data=_lines(("Olanzapine 5 mg", "0-0-1"), ("Trihexyphenidyl 2 mg", "1-0-0")))
    pf2 = ClinicalProforma(patient_id=p.id, filled_by=users["resident"].id,
                           visit_date=__import__("datetime").date(2026, 12, 20), visit_type="follow_up")
    db.session.add(pf2)
    db.session.commit()
    page = c.get(f"/prescriptions/proforma/{pf2.id}?repeat=1").get_data(as_text=True)
    assert 'value="Olanzapine"' in page and 'value="5 mg"' in page and "Copied 2 line(s)" in page
    c.post(f"/prescriptions/proforma/{pf2.id}", data=_lines(("Olanzapine 5 mg", "0-0-2"), ("Sodium Valproate 500 mg", "1-0-1")))
    hist = c.get(f"/prescriptions/patient/{p.id}").get_data(as_text=True)
    assert "Added: Sodium Valproate 500 mg" in hist and "Stopped: Trihexyphenidyl 2 mg" in hist
    assert "Olanzapine 5 mg: 0-0-1 → 0-0-2" in hist


def test_warning_needs_override_reason(role_client, users):
    p, pf = _proforma(users)
    c = role_client("resident")
    data = _lines(("Lithium Carbonate 300 mg", "1-0-1"), ("Ibuprofen 400 mg", "SOS"))
    warn = c.post(f"/prescriptions/proforma/{pf.id}/check", data=data).get_data(as_text=True)
    assert "Drug-safety warnings" in warn and "ithium" in warn
    resp = c.post(f"/prescriptions/proforma/{pf.id}", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'name="override_reason"' in html and 'value="Ibuprofen"' in html
    assert 'value="400 mg"' in html
    assert db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == pf.id)).first() is None
    resp = c.post(f"/prescriptions/proforma/{pf.id}", data={**data, "override_reason": "Two days only, level normal"})
    assert resp.status_code == 302
    row = db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == pf.id)).scalar_one()
    assert row.override_reason == "Two days only, level normal" and row.warnings


def test_allergy_warning_from_the_patient_record(role_client, users):
    p, pf = _proforma(users, allergies="Carbamazepine (rash)")
    html = role_client("resident").post(f"/prescriptions/proforma/{pf.id}/check",
                                        data=_lines(("Carbamazepine 200 mg", "1-0-1"))).get_data(as_text=True)
    assert "Drug-safety warnings" in html and "llerg" in html


def test_templates(role_client, users):
    p, pf = _proforma(users)
    c = role_client("resident")
    c.post(f"/prescriptions/proforma/{pf.id}/template", data={"template_name": "Depression start",
                                                              **_lines(("Sertraline 50 mg", "0-0-1"))})
    tpl = db.session.execute(select(PrescriptionTemplate).where(PrescriptionTemplate.name == "Depression start")).scalar_one()
    page = c.get(f"/prescriptions/proforma/{pf.id}?template={tpl.id}").get_data(as_text=True)
    assert 'value="Sertraline"' in page and 'value="50 mg"' in page and "Template “Depression start” applied" in page
    other = role_client("faculty").get(f"/prescriptions/proforma/{pf.id}?template={tpl.id}").get_data(as_text=True)
    assert "Template not found" in other   # templates are a doctor's own


def test_roles_and_stale_save(role_client, users):
    p, pf = _proforma(users)
    assert role_client("pwo").get(f"/prescriptions/proforma/{pf.id}").status_code == 403
    a, b = role_client("resident"), role_client("faculty")
    a.post(f"/prescriptions/proforma/{pf.id}", data=_lines(("Mirtazapine 7.5 mg", "0-0-1")))
    row = db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == pf.id)).scalar_one()
    v = row.version
    # Faculty amends the Resident's prescription: a reason is needed, then it is a new version.
    no_reason = b.post(f"/prescriptions/proforma/{pf.id}", data={**_lines(("Mirtazapine 15 mg", "0-0-1")),
                                                                 "version": str(v)})
    assert no_reason.status_code == 422 and "Give the reason for the change" in no_reason.get_data(as_text=True)
    assert b.post(f"/prescriptions/proforma/{pf.id}", data={**_lines(("Mirtazapine 15 mg", "0-0-1")),
                                                            "version": str(v), "change_reason": "Dose raised at review"}
                  ).status_code == 302
    # A second save based on the version the Faculty member first saw is stale: 409, lines kept.
    resp = b.post(f"/prescriptions/proforma/{pf.id}", data={**_lines(("Mirtazapine 30 mg", "0-0-1")),
                                                            "version": str(v), "change_reason": "Dose raised again"})
    assert resp.status_code == 409 and 'value="30 mg"' in resp.get_data(as_text=True)
    # The Resident may no longer change the Faculty-signed version: sent back to the prescription.
    resp = a.post(f"/prescriptions/proforma/{pf.id}", data={**_lines(("Mirtazapine 45 mg", "0-0-1")),
                                                            "version": str(v + 1)})
    assert resp.status_code == 302 and f"/prescriptions/{row.id}" in resp.headers["Location"]
    db.session.refresh(row)
    assert _names(row) == ["Mirtazapine 15 mg"] and row.signed_by == users["faculty"].id


def test_reachable_from_patient_page_and_todays_patients(role_client, users):
    from emrs.patients.models import PatientVisit
    from emrs.timeutil import today_ist
    p, pf = _proforma(users, day=today_ist().isoformat())
    db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist(), visit_type="follow_up",
                                visit_status="scheduled", assigned_doctor_id=users["resident"].id))
    db.session.commit()
    c = role_client("resident")
    assert f"/prescriptions/proforma/{pf.id}" in c.get(f"/patients/{p.id}").get_data(as_text=True)
    assert f"/prescriptions/proforma/{pf.id}" in c.get("/patients/today").get_data(as_text=True)
