"""Follow-up pages: the form (422 with the reasons, nothing saved), the note's page with its
versions, amend, withdraw, files, the Prescription button, the patient page's Follow-up
button and timeline entry, and a prescription written from a follow-up."""
from __future__ import annotations

import datetime as dt
import io
import re
from html import unescape

from sqlalchemy import func, select

from emrs.extensions import db
from emrs.followups.models import FollowUp
from emrs.patients.models import PatientFile
from emrs.prescriptions.models import Prescription
from emrs.timeutil import today_ist

from ..factories import RX_LINE, create_proforma, register_patient

NOTE = "Doing well on sertraline; sleep improved."


def _returning(client, h, **proforma):
    p = register_patient(client, h["pwo"])
    create_proforma(client, h["resident"], p["id"], visit_date=(today_ist() - dt.timedelta(days=30)).isoformat(),
                    diagnosis="Moderate depressive episode", **proforma)
    return p


def _token(html: str) -> str:
    m = re.search(r'name="_submission" value="([^"]+)"', html)
    return m.group(1) if m else ""


def _count():
    return db.session.execute(select(func.count(FollowUp.id))).scalar_one()


def _png():
    from tests.security.walk import png
    return png()


def test_the_form_shows_the_patient_and_saves_with_files(client, h, role_client):
    p = _returning(client, h)
    c = role_client("resident")
    resp = c.get(f"/follow-ups/new?patient_id={p['id']}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert p["cr_no"] in html and "Patient information" in html and "Clinical assessment" in html
    assert 'name="files"' in html and 'enctype="multipart/form-data"' in html
    resp = c.post(f"/follow-ups/new?patient_id={p['id']}", data={
        "clinical_assessment": NOTE, "_submission": _token(html),
        "files": [(io.BytesIO(_png()), "scan.png"), (io.BytesIO(b"lab report\n"), "labs.txt")]},
        content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    row = db.session.execute(select(FollowUp).where(FollowUp.patient_id == p["id"])).scalar_one()
    assert resp.headers["Location"].endswith(f"/follow-ups/{row.id}")
    files = db.session.execute(select(PatientFile).where(PatientFile.followup_id == row.id)).scalars().all()
    assert sorted(f.original_name for f in files) == ["labs.txt", "scan.png"]
    page = unescape(c.get(resp.headers["Location"]).get_data(as_text=True))
    assert "Follow-up visit 1 of 1" in page and NOTE in page and "scan.png" in page and "labs.txt" in page
    assert f"/prescriptions/follow-up/{row.id}" in page  # the Prescription button


def test_errors_re_render_the_form_with_422_and_save_nothing(client, h, role_client):
    p = _returning(client, h)
    c = role_client("resident")
    html = c.get(f"/follow-ups/new?patient_id={p['id']}").get_data(as_text=True)
    before = _count()
    resp = c.post(f"/follow-ups/new?patient_id={p['id']}", data={"clinical_assessment": "  ",
                                                                 "_submission": _token(html)})
    assert resp.status_code == 422
    assert "Clinical assessment is required" in resp.get_data(as_text=True)
    future = (today_ist() + dt.timedelta(days=1)).isoformat()
    resp = c.post(f"/follow-ups/new?patient_id={p['id']}", data={"clinical_assessment": NOTE, "visit_date": future,
                                                                 "_submission": _token(html)})
    assert resp.status_code == 422 and "cannot be after today" in unescape(resp.get_data(as_text=True))
    assert NOTE in unescape(resp.get_data(as_text=True))  # what was typed comes back
    # a refused file: neither the note nor any file is kept
    resp = c.post(f"/follow-ups/new?patient_id={p['id']}", data={
        "clinical_assessment": NOTE, "_submission": _token(html),
        "files": [(io.BytesIO(b"MZ\x90\x00\x03" + bytes(200)), "tool.exe")]}, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert _count() == before
    assert db.session.execute(select(func.count(PatientFile.id)).where(
        PatientFile.patient_id == p["id"])).scalar_one() == 0


def test_a_first_visit_patient_gets_no_form(client, h, role_client):
    p = register_patient(client, h["pwo"])
    c = role_client("resident")
    html = unescape(c.get(f"/follow-ups/new?patient_id={p['id']}").get_data(as_text=True))
    assert "A follow-up is for a returning patient" in html and 'name="clinical_assessment"' not in html
    resp = c.post(f"/follow-ups/new?patient_id={p['id']}", data={"clinical_assessment": NOTE})
    assert resp.status_code == 422 and _count() == 0
    assert c.get("/follow-ups/new?patient_id=abc").status_code == 404
    assert c.get("/follow-ups/new?patient_id=999999").status_code == 404


def test_the_welfare_officer_is_refused_the_pages(client, h, role_client):
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    c = role_client("pwo")
    assert c.get(f"/follow-ups/new?patient_id={p['id']}").status_code == 403
    assert c.get(f"/follow-ups/{f['id']}").status_code == 403
    assert c.post(f"/follow-ups/{f['id']}/withdraw", data={"reason": "Wrong patient"}).status_code == 403
    page = c.get(f"/patients/{p['id']}").get_data(as_text=True)
    assert f"/follow-ups/new?patient_id={p['id']}" not in page
    assert "Follow-up visit 1 of 1" in page and NOTE not in page  # the visit shows; its text does not


def test_patient_page_button_and_timeline(client, h, role_client):
    p = _returning(client, h)
    new = register_patient(client, h["pwo"])
    c = role_client("resident")
    assert f"/follow-ups/new?patient_id={p['id']}" in c.get(f"/patients/{p['id']}").get_data(as_text=True)
    assert f"/follow-ups/new?patient_id={new['id']}" not in c.get(f"/patients/{new['id']}").get_data(as_text=True)
    for _ in range(2):
        client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"])
    page = unescape(c.get(f"/patients/{p['id']}").get_data(as_text=True))
    assert "Follow-up visit 1 of 2" in page and "Follow-up visit 2 of 2" in page


def test_amend_on_the_page_keeps_the_old_version_readable(client, h, role_client):
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    c = role_client("resident")
    form = c.get(f"/follow-ups/{f['id']}/amend")
    assert form.status_code == 200 and NOTE in unescape(form.get_data(as_text=True))
    resp = c.post(f"/follow-ups/{f['id']}/amend", data={"clinical_assessment": "Better; taper planned.",
                                                        "version": "1"})
    assert resp.status_code == 422 and "reason for the amendment" in resp.get_data(as_text=True)
    resp = c.post(f"/follow-ups/{f['id']}/amend", data={"clinical_assessment": "Better; taper planned.",
                                                        "amend_reason": "Plan discussed with consultant",
                                                        "version": "1"})
    assert resp.status_code == 302
    page = unescape(c.get(f"/follow-ups/{f['id']}").get_data(as_text=True))
    assert "Better; taper planned." in page and "Version 1" in page and NOTE in page
    assert "Plan discussed with consultant" in page
    stale = c.post(f"/follow-ups/{f['id']}/amend", data={"clinical_assessment": "Stale edit",
                                                         "amend_reason": "Edited an old copy", "version": "1"})
    assert stale.status_code == 409 and db.session.get(FollowUp, f["id"]).clinical_assessment != "Stale edit"


def test_admin_is_sent_back_from_amending_a_residents_note(client, h, role_client):
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    c = role_client("admin")
    resp = c.post(f"/follow-ups/{f['id']}/amend", data={"clinical_assessment": "Admin text",
                                                        "amend_reason": "Admin correction", "version": "1"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/follow-ups/{f['id']}")
    assert "You cannot change this follow-up note" in unescape(c.get(resp.headers["Location"]).get_data(as_text=True))
    assert db.session.get(FollowUp, f["id"]).clinical_assessment == NOTE


def test_withdraw_on_the_page(client, h, role_client):
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    c = role_client("resident")
    resp = c.post(f"/follow-ups/{f['id']}/withdraw", data={"reason": ""})
    assert resp.status_code == 422 and "reason for the withdrawal" in resp.get_data(as_text=True)
    assert db.session.get(FollowUp, f["id"]).is_active
    resp = c.post(f"/follow-ups/{f['id']}/withdraw", data={"reason": "Written for the wrong patient"})
    assert resp.status_code == 302
    page = unescape(c.get(f"/follow-ups/{f['id']}").get_data(as_text=True))
    assert "Withdrawn" in page and "Written for the wrong patient" in page


def test_a_prescription_written_from_a_follow_up(client, h, role_client, users):
    p = _returning(client, h, icd_code="F32.1")
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    c = role_client("resident")
    editor = c.get(f"/prescriptions/follow-up/{f['id']}")
    html = unescape(editor.get_data(as_text=True))
    assert editor.status_code == 200 and "Prescription · follow-up of" in html
    assert "Moderate depressive episode" in html  # the latest proforma's diagnosis
    resp = c.post(f"/prescriptions/follow-up/{f['id']}", data={"lines-0-medicine": "Sertraline",
                                                                "lines-0-strength": "50 mg", "lines-0-dosage": "1-0-0"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    rx = db.session.execute(select(Prescription).where(Prescription.followup_id == f["id"])).scalar_one()
    assert rx.clinical_proforma_id is None and rx.patient_id == p["id"] and rx.signed_by == users["resident"].id
    show = unescape(c.get(f"/prescriptions/{rx.id}").get_data(as_text=True))
    assert "Moderate depressive episode" in show and f"/prescriptions/follow-up/{f['id']}" in show
    assert f"/prescriptions/{rx.id}" in c.get(f"/follow-ups/{f['id']}").get_data(as_text=True)
    history = c.get(f"/prescriptions/patient/{p['id']}")
    assert history.status_code == 200 and "Sertraline" in history.get_data(as_text=True)


def test_the_prescription_pdf_of_a_follow_up_carries_the_latest_diagnosis(client, h, app):
    from emrs.prescriptions import pdf
    from emrs.prescriptions.basis import basis
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    resp = client.post("/api/prescriptions", json={"followup_id": f["id"], "prescription": [RX_LINE]},
                       headers=h["resident"])
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()["data"]["prescription"]
    assert data["followup_id"] == f["id"] and data["clinical_proforma_id"] is None
    rx = db.session.get(Prescription, data["id"])
    with app.test_request_context():
        written_on = basis(rx)
        html = pdf.html(rx, written_on, _patient(p["id"]), None)
    assert "Moderate depressive episode" in html and today_ist().strftime("%d %b %Y") in html
    got = client.get(f"/api/prescriptions/{rx.id}/pdf", headers=h["resident"])
    assert got.status_code == 200 and got.data.startswith(b"%PDF")


def _patient(pid):
    from emrs.patients.models import Patient
    return db.session.get(Patient, pid)


def test_prescription_api_rules_hold_for_follow_ups(client, h, users):
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    before = db.session.execute(select(func.count(Prescription.id))).scalar_one()
    assert client.post("/api/prescriptions", json={"followup_id": f["id"], "prescription": [RX_LINE]},
                       headers=h["pwo"]).status_code == 403
    both = client.post("/api/prescriptions", json={"followup_id": f["id"], "clinical_proforma_id": 1,
                                                   "prescription": [RX_LINE]}, headers=h["resident"])
    assert both.status_code == 400 and "not both" in both.get_json()["message"]
    assert client.post("/api/prescriptions", json={"followup_id": 999999, "prescription": [RX_LINE]},
                       headers=h["resident"]).status_code == 404
    wrong = client.post("/api/prescriptions", json={"followup_id": f["id"], "patient_id": p["id"] + 1000,
                                                    "prescription": [RX_LINE]}, headers=h["resident"])
    assert wrong.status_code in (400, 404)
    early = client.post("/api/prescriptions", json={"followup_id": f["id"], "prescription": [RX_LINE],
                                                    "follow_up_date": "2000-01-01"}, headers=h["resident"])
    assert early.status_code == 400 and early.get_json()["errors"][0]["path"] == "follow_up_date"
    assert db.session.execute(select(func.count(Prescription.id))).scalar_one() == before
    rx = client.post("/api/prescriptions", json={"followup_id": f["id"], "prescription": [RX_LINE]},
                     headers=h["resident"]).get_json()["data"]["prescription"]
    # Amending it follows the prescription's record rules: not the admin, a new version for the author.
    assert client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": [RX_LINE], "change_reason": "Dose"},
                      headers=h["admin"]).status_code == 403
    upd = client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": [dict(RX_LINE, dosage="1-0-1")]},
                     headers=h["resident"])
    assert upd.status_code == 200 and upd.get_json()["data"]["prescription"]["version"] == 2
    assert upd.get_json()["data"]["prescription"]["followup_id"] == f["id"]
    listed = client.get(f"/api/prescriptions/by-patient/{p['id']}", headers=h["faculty"]).get_json()["data"]
    assert rx["id"] in [r["id"] for r in listed["prescriptions"]]
    by_note = client.get(f"/api/prescriptions?followup_id={f['id']}", headers=h["faculty"]).get_json()["data"]
    assert [r["id"] for r in by_note["prescriptions"]] == [rx["id"]]
    assert client.get("/api/prescriptions?followup_id=x", headers=h["faculty"]).status_code == 400
    # a withdrawn follow-up takes its prescription off the patient's list (both stay stored)
    client.delete(f"/api/follow-ups/{f['id']}", json={"reason": "Wrong patient's note"}, headers=h["resident"])
    listed = client.get(f"/api/prescriptions/by-patient/{p['id']}", headers=h["faculty"]).get_json()["data"]
    assert rx["id"] not in [r["id"] for r in listed["prescriptions"]]
    assert db.session.get(Prescription, rx["id"]) is not None


def test_fhir_lists_a_follow_up_prescription_with_the_follow_ups_visit(client, h):
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    rx = client.post("/api/prescriptions", json={"followup_id": f["id"], "prescription": [RX_LINE]},
                     headers=h["resident"]).get_json()["data"]["prescription"]
    resp = client.get("/fhir/MedicationRequest", query_string={"patient": p["id"]}, headers=h["faculty"])
    assert resp.status_code == 200
    found = [e["resource"] for e in resp.get_json()["entry"]
             if e["resource"]["groupIdentifier"]["value"] == str(rx["id"])]
    assert len(found) == 1 and found[0]["encounter"]["reference"].endswith(f"Encounter/{f['visit_id']}")
    assert "reasonReference" not in found[0]


def test_the_admin_restores_a_withdrawn_follow_up(client, h, role_client):
    p = _returning(client, h)
    f = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                    headers=h["resident"]).get_json()["data"]["followup"]
    client.delete(f"/api/follow-ups/{f['id']}", json={"reason": "Duplicate of another note"}, headers=h["resident"])
    admin = role_client("admin")
    page = unescape(admin.get("/clinical/withdrawn").get_data(as_text=True))
    assert "Follow-up notes (1)" in page and "Duplicate of another note" in page
    resp = admin.post(f"/clinical/withdrawn/followup/{f['id']}/restore")
    assert resp.status_code == 302
    row = db.session.get(FollowUp, f["id"])
    assert row.is_active and row.withdrawn_at is None and row.version == 3
    assert client.get(f"/api/follow-ups/{f['id']}", headers=h["faculty"]).status_code == 200
    assert role_client("faculty").post(f"/clinical/withdrawn/followup/{f['id']}/restore").status_code == 403
