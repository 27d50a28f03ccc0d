"""Child walk-in proforma pages: Today's Patients -> the child form, drafts, 409, amend,
show page, prescription and its PDF with the child's own identity."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from emrs.clinical.models import ClinicalProforma
from emrs.drafts.models import Draft
from emrs.extensions import db
from emrs.patients.models import PatientVisit
from emrs.timeutil import today_ist
from tests.factories import patient_row
from tests.opd.helpers import room, seat


def _child(name="Navjot Child", **fields):
    return patient_row(name, clinic="child", **{"age": 9, "sex": "M", **fields})


def _post(c, pid, **data):
    base = {"visit_date": today_ist().isoformat(), "reliability": "Good", "school_type": "Private",
            "behavioral_concerns": ["inattention", "hyperactivity"], "presenting_complaints": "Restless in class",
            "provisional_diagnosis": "ADHD", "icd_code": "F90.0", "high_risk_management": "No"}
    base.update(data)
    return c.post(f"/clinical/child/new?patient_id={pid}", data=base)


def test_form_has_the_fifteen_sections_and_the_registered_age(role_client):
    child = _child(age=11)
    c = role_client("resident")
    html = c.get(f"/clinical/child/new?patient_id={child.id}").get_data(as_text=True)
    for n, title in enumerate(("Basic information", "School information", "Presenting complaints",
                               "Neurodevelopmental concerns", "Behavioural concerns", "Emotional and psychological",
                               "Trauma and psychosocial stressors", "Medical and family history", "Risk assessment",
                               "Mental status examination", "Provisional diagnosis", "Investigations required",
                               "Treatment plan", "Follow-up and disposal", "Patient documents"), 1):
        assert f"{n}. {title}" in html
    assert 'name="age" value="11"' in html  # the registered age, not an age-group midpoint
    assert 'type="checkbox" name="neurodevelopmental_concerns" value="speech_delay"' in html
    assert 'type="radio" name="reliability" value="Good"' in html and "data-icd-picker" in html
    assert 'data-autosave-key="child_proforma:new"' in html
    assert role_client("pwo").get(f"/clinical/child/new?patient_id={child.id}").status_code == 403
    # an adult goes to the adult form, and the adult form sends a child to the child form
    adult = patient_row("Adult Person", age=40)
    assert "/clinical/proformas/new" in c.get(f"/clinical/child/new?patient_id={adult.id}").headers["Location"]
    assert "/clinical/child/new" in c.get(f"/clinical/proformas/new?patient_id={child.id}").headers["Location"]


def test_submit_show_and_amend_with_409(role_client):
    child = _child()
    c = role_client("resident")
    resp = _post(c, child.id)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    row = db.session.execute(select(ClinicalProforma).where(ClinicalProforma.patient_id == child.id)).scalar_one()
    assert row.form == "child" and row.child_sections["status"] == "submitted" and row.icd_system == "ICD-10"
    assert row.child_sections["behavioral_concerns"] == ["inattention", "hyperactivity"]
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Child walk-in clinical proforma" in page and "Inattention, Hyperactivity" in page and "F90.0" in page
    # the adult show page of the same id leads here
    assert f"/clinical/child/{row.id}" in c.get(f"/clinical/proformas/{row.id}").headers["Location"]
    # Today's Patients opens today's child proforma rather than a second one
    assert f"/clinical/child/{row.id}/edit" in c.get(f"/clinical/child/new?patient_id={child.id}").headers["Location"]
    # a stale save: 409, the typed values stay on the form, nothing saved
    assert c.post(f"/clinical/child/{row.id}/edit", data={"version": "1", "school_type": "Govt"}).status_code == 302
    resp = c.post(f"/clinical/child/{row.id}/edit", data={"version": "1", "school_name": "Stale typed school",
                                                           "change_reason": "Adding the school"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "changed by someone else" in html and "Stale typed school" in html
    db.session.expire_all()
    saved = db.session.get(ClinicalProforma, row.id)
    assert saved.child_sections.get("school_name") is None and saved.child_sections["school_type"] == "Govt"
    # a consultant's record: a resident is sent to the read-only page
    fac = role_client("faculty")
    assert fac.post(f"/clinical/child/{row.id}/edit", data={"version": "2", "school_type": "Special",
                                                            "change_reason": "Special school since June"}
                    ).status_code == 302
    resp = c.get(f"/clinical/child/{row.id}/edit")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/clinical/child/{row.id}")


def test_draft_is_offered_and_cleared(role_client, users):
    child = _child()
    c = role_client("resident")
    resp = c.post("/drafts/save", data={"_draft_key": "child_proforma:new", "_draft_patient": str(child.id),
                                        "developmental_history": "Walked at 18 months",
                                        "risk_assessment": ["self_harm_risk"]}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    html = c.get(f"/clinical/child/new?patient_id={child.id}").get_data(as_text=True)
    assert "Unsaved draft restored from" in html and "Walked at 18 months" in html
    assert re.search(r'value="self_harm_risk"\s+checked', html)
    assert _post(c, child.id).status_code == 302
    assert db.session.execute(select(Draft).where(Draft.user_id == users["resident"].id)).first() is None


def test_bad_option_on_the_page_shows_errors_and_saves_nothing(role_client):
    child = _child()
    resp = _post(role_client("resident"), child.id, bullying="Sometimes")
    assert resp.status_code == 422 and "bullying must be one of" in resp.get_data(as_text=True)
    assert db.session.execute(select(ClinicalProforma).where(ClinicalProforma.patient_id == child.id)).first() is None


def test_todays_patients_proforma_button_opens_the_child_form(role_client, users):
    r = room("21")
    seat(users["resident"], r)
    child = _child("Gurnoor Child")
    role_client("pwo").post("/opd/counter/requeue", data={"patient_id": str(child.id), "room": "21"})
    [v] = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == child.id)).scalars().all()
    doc = role_client("resident")
    resp = doc.post(f"/opd/visits/{v.id}/start", data={"next": "proforma"})
    assert resp.status_code == 302 and f"/clinical/child/new?patient_id={child.id}" in resp.headers["Location"]
    assert _post(doc, child.id).status_code == 302
    assert "proforma done" in doc.get("/patients/today").get_data(as_text=True)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")
def test_prescription_pdf_prints_the_childs_own_identity(client, h, tmp_path):
    """The original stored a child's id in prescriptions.patient_id with no discriminator, so a
    child and an adult with the same number printed each other's identity. Here a child is a
    patient row: each prescription prints its own patient's name and CR."""
    child = _child("Tejinder Child", age=12)
    adult = patient_row("Balwinder Adult", age=45)
    cpf = client.post("/api/child-clinical-proformas", json={"child_patient_id": child.id},
                      headers=h["resident"]).get_json()["data"]["proforma"]
    apf = client.post("/api/clinical-proformas", json={"patient_id": adult.id, "visit_date": today_ist().isoformat(),
                                                        "diagnosis": "Depression"},
                      headers=h["resident"]).get_json()["data"]["proforma"]
    line = {"medicine": "Risperidone", "strength": "0.5 mg", "form": "Tablet", "dosage": "0-0-1",
            "frequency": "Once Daily", "duration": "1 Month"}
    texts = {}
    for who, pf in (("child", cpf), ("adult", apf)):
        resp = client.post("/api/prescriptions", json={"clinical_proforma_id": pf["id"], "prescription": [line]},
                           headers=h["resident"])
        assert resp.status_code == 201, resp.get_json()
        rx = resp.get_json()["data"]["prescription"]
        data = client.get(f"/api/prescriptions/{rx['id']}/pdf", headers=h["resident"]).data
        (tmp_path / f"{who}.pdf").write_bytes(data)
        texts[who] = subprocess.run(["pdftotext", "-layout", str(tmp_path / f"{who}.pdf"), "-"], capture_output=True,
                                    text=True, check=True).stdout
    assert "Tejinder Child" in texts["child"] and child.cr_no in texts["child"] and "0.5 mg" in texts["child"]
    assert "Balwinder" not in texts["child"] and adult.cr_no not in texts["child"]
    assert "Balwinder Adult" in texts["adult"] and "Tejinder" not in texts["adult"]
