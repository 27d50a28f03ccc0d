"""Proforma pages: the form, drafts, pre-fill, complex decision, 409, read-only page."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from emrs.clinical.models import ClinicalProforma
from emrs.drafts.models import Draft
from emrs.extensions import db
from emrs.intake.models import IntakeRecord
from emrs.patients.models import Patient


def _patient():
    p = Patient(name="Amarjit Kaur", sex="F", age=52, cr_no="CRTEST100001", name_key="amrjt kr")
    db.session.add(p)
    db.session.commit()
    return p


def _post(c, pid, **data):
    base = {"visit_date": "2026-11-20", "informant_present": "true", "mood": ["Sad", "Anxious"],
            "mood__other": "Tearful", "diagnosis": "Moderate depression", "icd_code": "F32.1",
            "doctor_decision": "simple_case"}
    base.update(data)
    return c.post(f"/clinical/proformas/new?patient_id={pid}", data=base)


def test_form_renders_every_section_with_options(role_client, users):
    p = _patient()
    html = role_client("resident").get(f"/clinical/proformas/new?patient_id={p.id}").get_data(as_text=True)
    for title in ("Informant", "Onset and course", "Complaints", "Additional history", "Mental status examination",
                  "General physical examination", "Diagnosis", "Disposal", "Decision"):
        assert title in html
    assert 'value="Talking/Smiling to self"' in html and 'name="mse_affect"' in html
    assert 'data-autosave-key="proforma:new"' in html and "data-icd-picker" in html
    assert role_client("pwo").get(f"/clinical/proformas/new?patient_id={p.id}").status_code == 403


def test_submit_simple_then_view_and_timeline(role_client):
    p = _patient()
    c = role_client("resident")
    resp = _post(c, p.id)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    row = db.session.execute(select(ClinicalProforma).where(ClinicalProforma.patient_id == p.id)).scalar_one()
    assert row.mood == "Sad, Anxious, Tearful" and row.icd_system == "ICD-10"
    assert row.icd_title == "Moderate depressive episode"
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sad, Anxious, Tearful" in page and "F32.1" in page and "Simple case" in page
    timeline = c.get(f"/patients/{p.id}").get_data(as_text=True)
    assert "Walk-in proforma" in timeline and f"/clinical/proformas/{row.id}" in timeline


def test_complex_decision_creates_intake_record_once(role_client):
    p = _patient()
    c = role_client("resident")
    assert _post(c, p.id, doctor_decision="complex_case").status_code == 302
    assert _post(c, p.id, doctor_decision="complex_case", visit_date="2026-11-21").status_code == 302
    n = db.session.execute(select(func.count(IntakeRecord.id)).where(IntakeRecord.patient_id == p.id)).scalar_one()
    assert n == 1


def test_errors_keep_typed_values(role_client):
    p = _patient()
    resp = _post(role_client("resident"), p.id, icd_code="BADCODE", gpe="BP 130/90 typed carefully")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "icd_code must be an ICD-10" in html and "BP 130/90 typed carefully" in html


def test_complex_cannot_go_back_and_stale_save_is_409(role_client):
    p = _patient()
    a, b = role_client("resident"), role_client("faculty")
    _post(a, p.id, doctor_decision="complex_case")
    row = db.session.execute(select(ClinicalProforma).where(ClinicalProforma.patient_id == p.id)).scalar_one()
    form = {"version": str(row.version), "visit_date": "2026-11-20", "doctor_decision": "complex_case",
            "gpe": "Faculty edit", "change_reason": "Examined again at the review"}
    # Faculty changing a Resident's proforma is asked why (the field is on the form).
    page = b.get(f"/clinical/proformas/{row.id}/edit").get_data(as_text=True)
    assert 'name="change_reason"' in page
    assert b.post(f"/clinical/proformas/{row.id}/edit", data=form).status_code == 302
    resp = b.post(f"/clinical/proformas/{row.id}/edit", data={**form, "gpe": "Faculty stale edit"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "changed by someone else" in html and "Faculty stale edit" in html
    assert "Reload the saved version" in html
    assert db.session.get(ClinicalProforma, row.id).gpe == "Faculty edit"
    fresh = db.session.get(ClinicalProforma, row.id)
    resp = b.post(f"/clinical/proformas/{row.id}/edit", data={**form, "version": str(fresh.version),
                                                              "doctor_decision": "simple_case"})
    assert resp.status_code == 422 and "cannot be changed back to a simple case" in resp.get_data(as_text=True)
    # The Resident may not rewrite the version Faculty wrote: sent back to the read-only page.
    resp = a.post(f"/clinical/proformas/{row.id}/edit", data={**form, "version": str(fresh.version),
                                                              "gpe": "Resident overwrite"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/clinical/proformas/{row.id}")
    assert db.session.get(ClinicalProforma, row.id).gpe == "Faculty edit"


def test_draft_is_offered_and_cleared_on_submit(role_client, users):
    p = _patient()
    c = role_client("resident")
    resp = c.post("/drafts/save", data={"_draft_key": "proforma:new", "_draft_patient": str(p.id),
                                        "gpe": "Half-typed finding", "mood": ["Sad"]},
                  headers={"HX-Request": "true"})
    assert resp.status_code == 200
    html = c.get(f"/clinical/proformas/new?patient_id={p.id}").get_data(as_text=True)
    assert "Unsaved draft restored from" in html and "Half-typed finding" in html
    assert re.search(r'value="Sad"\s+checked', html)
    assert _post(c, p.id, gpe="Half-typed finding").status_code == 302
    assert db.session.execute(select(Draft).where(Draft.user_id == users["resident"].id)).first() is None


def test_prefill_from_last_proforma(role_client):
    p = _patient()
    c = role_client("resident")
    _post(c, p.id, past_history="Depressive episode in 2019", mse_affect=["Sad"])
    html = c.get(f"/clinical/proformas/new?patient_id={p.id}&prefill=1").get_data(as_text=True)
    assert "Depressive episode in 2019" in html and "Started from the proforma of" in html
    assert re.search(r'name="visit_type">.*?<option value="follow_up" selected', html, re.S)


def test_lists(role_client):
    p = _patient()
    c = role_client("resident")
    _post(c, p.id, doctor_decision="complex_case")
    assert "Amarjit Kaur" in c.get("/clinical/proformas?view=complex").get_data(as_text=True)
    assert "Amarjit Kaur" in c.get("/clinical/proformas?view=mine").get_data(as_text=True)
    assert "Amarjit Kaur" not in role_client("faculty").get("/clinical/proformas?view=mine").get_data(as_text=True)


def test_stats_page(role_client):
    p = _patient()
    c = role_client("resident")
    from emrs.timeutil import today_ist
    _post(c, p.id, visit_date=today_ist().isoformat(), doctor_decision="complex_case")
    for period in ("day", "week", "month"):
        html = c.get(f"/clinical/proformas/stats?period={period}").get_data(as_text=True)
        assert '<svg' in html and 'role="img"' in html and "Decision mix" in html
        assert re.search(r"<td>Complex</td><td>1</td>", html)
    assert role_client("pwo").get("/clinical/proformas/stats").status_code == 403
