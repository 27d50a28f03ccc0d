"""Record-level rules on every door (auth/records.py): who wrote a proforma or a prescription
decides who may change or withdraw it, whatever door the request comes through — the page
forms, the JSON API (including prescription lines sent inside a proforma request), FHIR and
the printed PDF.

Each case is (actor, author of the record, door) and what the actor must see; after a
refusal the record is unchanged (same lines, same signer, still active).
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import select

from emrs.auth.models import RESIDENT
from emrs.clinical.models import ClinicalProforma
from emrs.extensions import db
from emrs.prescriptions.models import Prescription
from emrs.timeutil import today_ist

from ..conftest import browser_login

LINES = [{"medicine": "Sertraline 50 mg", "dosage": "1-0-0", "duration": "1 Month"}]
REASON = "Reviewed at the consultant's round"


@pytest.fixture
def world(client, users, bearer, make_user, role_client, outbox):
    """A patient with a proforma + prescription written by the Resident and another pair by
    Faculty; API headers and signed-in page clients for every role and a second resident."""
    other = make_user(RESIDENT)
    who = {**users, "other_resident": other}
    h = {k: bearer(u) for k, u in who.items()}
    patient = client.post("/api/patients/register-complete", json={"name": "Record Rules", "age": 39, "sex": "F"},
                          headers=h["pwo"]).get_json()["data"]["patient"]

    def pair(author):
        pf = client.post("/api/clinical-proformas", json={"patient_id": patient["id"], "visit_date":
                                                          today_ist().isoformat(), "diagnosis": "Depression"},
                         headers=h[author]).get_json()["data"]["proforma"]
        rx = client.post("/api/prescriptions", json={"clinical_proforma_id": pf["id"], "prescription": LINES},
                         headers=h[author]).get_json()["data"]["prescription"]
        return pf["id"], rx["id"]

    records = {"resident": pair("resident"), "faculty": pair("faculty")}
    pages = {k: role_client(k) for k in users}
    pages["other_resident"] = client.application.test_client()
    browser_login(pages["other_resident"], outbox, other)
    return {"h": h, "pages": pages, "records": records, "patient": patient, "users": who}


def _state(proforma_id, rx_id):
    db.session.expire_all()
    pf, rx = db.session.get(ClinicalProforma, proforma_id), db.session.get(Prescription, rx_id)
    return (pf.is_active, pf.diagnosis, pf.author_id, rx.withdrawn_at is None, rx.signer_id,
            [l["medicine"] for l in rx.lines])


# The write doors: (name, request(client, world, proforma id, rx id) -> response, page?)
def _api(method, url, body=None):
    def call(c, w, actor, pf, rx):
        return c.open(url.format(pf=pf, rx=rx), method=method, json=body, headers=w["h"][actor])
    return call


def _page(url, data):
    def call(c, w, actor, pf, rx):
        return w["pages"][actor].post(url.format(pf=pf, rx=rx), data=data)
    return call


CHANGED_LINES = [{"medicine": "Fluoxetine 20 mg", "dosage": "1-0-0"}]
DOORS = {
    "PUT proforma (API)": _api("PUT", "/api/clinical-proformas/{pf}", {"diagnosis": "Rewritten", "change_reason":
                                                                      REASON}),
    "DELETE proforma (API)": _api("DELETE", "/api/clinical-proformas/{pf}", {"reason": "Wrong patient"}),
    "PUT prescription (API)": _api("PUT", "/api/prescriptions/{rx}", {"prescription": CHANGED_LINES,
                                                                     "change_reason": REASON}),
    "POST prescription again (API)": None,  # built per case: needs the proforma id in the body
    "lines inside PUT proforma (API)": _api("PUT", "/api/clinical-proformas/{pf}", {
        "prescriptions": CHANGED_LINES, "change_reason": REASON}),
    "DELETE prescription (API)": _api("DELETE", "/api/prescriptions/{rx}", {"reason": "Wrong patient"}),
    "proforma edit page": _page("/clinical/proformas/{pf}/edit", {"visit_date": today_ist().isoformat(),
                                                                 "diagnosis": "Rewritten", "change_reason": REASON}),
    "prescription editor page": _page("/prescriptions/proforma/{pf}", {
        "lines-0-medicine": "Fluoxetine 20 mg", "lines-0-dosage": "1-0-0", "change_reason": REASON}),
}


def _post_again(c, w, actor, pf, rx):
    return c.post("/api/prescriptions", json={"clinical_proforma_id": pf, "prescription": CHANGED_LINES,
                                              "change_reason": REASON}, headers=w["h"][actor])


DOORS["POST prescription again (API)"] = _post_again

# (actor, author) -> may write? Withdrawal follows the same rule except an Admin may withdraw.
CASES = [
    ("resident", "faculty", False),        # never a Resident over Faculty's record
    ("other_resident", "resident", False),  # not another Resident's record
    ("pwo", "resident", False),            # a welfare officer writes no clinical record
    ("admin", "resident", False),          # an Admin withdraws but does not rewrite a doctor's record
    ("faculty", "resident", True),         # Faculty over their Residents' records
    ("resident", "resident", True),        # the author
]


def _refused(resp, page: bool) -> bool:
    if page:  # the page sends the user back to the record with the reason (or 403 for a PWO)
        return resp.status_code in (302, 403) and "/edit" not in resp.headers.get("Location", "")
    return resp.status_code == 403


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("actor,author,allowed", CASES, ids=[f"{a}-on-{b}" for a, b, _ in CASES])
def test_write_doors(client, world, door, actor, author, allowed):
    pf, rx = world["records"][author]
    before = _state(pf, rx)
    resp = DOORS[door](client, world, actor, pf, rx)
    page = door.endswith("page")
    withdraw = door.startswith("DELETE")
    may = allowed or (withdraw and actor == "admin")
    after = _state(pf, rx)
    if may:
        assert resp.status_code in (200, 201, 302), (resp.status_code, resp.get_data(as_text=True)[:300])
        assert after != before, "the permitted write changed nothing"
        if not withdraw and ("prescription" in door or "lines" in door):
            assert after[4] == world["users"][actor].id, "the new version is signed by who made it"
    else:
        assert _refused(resp, page), (resp.status_code, resp.get_data(as_text=True)[:300])
        assert after == before, "a refused write changed the record"


def test_a_changed_prescription_keeps_its_old_version_and_prints_the_new_signer(client, world):
    pf, rx = world["records"]["resident"]
    h, users = world["h"], world["users"]
    resp = client.put(f"/api/prescriptions/{rx}", json={"prescription": CHANGED_LINES, "change_reason": REASON},
                      headers=h["faculty"])
    assert resp.status_code == 200
    versions = client.get(f"/api/prescriptions/{rx}/versions", headers=h["resident"]).get_json()["data"]["versions"]
    assert [(v["version"], v["signed_by_name"], v["prescription"][0]["medicine"], v["change_reason"])
            for v in versions] == [(1, users["resident"].name, "Sertraline 50 mg", None),
                                   (2, users["faculty"].name, "Fluoxetine 20 mg", REASON)]
    page = world["pages"]["resident"].get(f"/prescriptions/{rx}?version=1").get_data(as_text=True)
    assert "Earlier version 1" in page and "Sertraline 50 mg" in page and f"signed by {users['faculty'].name}" in page
    if shutil.which("pdftotext"):
        pdf = client.get(f"/api/prescriptions/{rx}/pdf", headers=h["resident"])
        assert pdf.status_code == 200
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
        assert users["faculty"].name in text and users["resident"].name not in text
        assert "Fluoxetine" in text and "Sertraline" not in text


def test_a_welfare_officer_writes_no_prescription_through_the_proforma_door(client, world):
    """The hole: a PWO wrote printable prescription lines through /api/clinical-proformas,
    skipping the drug-safety override, with the PDF signed by the PWO."""
    h, patient = world["h"], world["patient"]
    lines = [{"medicine": "Lithium Carbonate 300 mg", "dosage": "1-0-1"}, {"medicine": "Ibuprofen 400 mg"}]
    resp = client.post("/api/clinical-proformas", json={"patient_id": patient["id"], "visit_date":
                                                        today_ist().isoformat(), "prescriptions": lines},
                       headers=h["pwo"])
    assert resp.status_code == 403 and "prescriptions" in resp.get_json()["message"]
    stub = client.post("/api/clinical-proformas", json={"patient_id": patient["id"],
                                                        "visit_date": today_ist().isoformat()}, headers=h["pwo"])
    stub_id = stub.get_json()["data"]["proforma"]["id"]
    resp = client.put(f"/api/clinical-proformas/{stub_id}", json={"prescriptions": lines}, headers=h["pwo"])
    assert resp.status_code == 403
    assert db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == stub_id)).first() is None
    # A doctor writing the same lines through the proforma door meets the drug-safety override too.
    resp = client.put(f"/api/clinical-proformas/{stub_id}", json={"prescriptions": lines}, headers=h["resident"])
    assert resp.status_code == 400 and resp.get_json()["code"] == "OVERRIDE_REQUIRED"
    resp = client.put(f"/api/clinical-proformas/{stub_id}", json={"prescriptions": lines, "override_reason":
                                                                 "Lithium level checked; short course"},
                      headers=h["resident"])
    assert resp.status_code == 200
    row = db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == stub_id)).scalar_one()
    assert row.signed_by == world["users"]["resident"].id and row.override_reason


@pytest.mark.parametrize("url", ["/api/prescriptions/{rx}", "/api/prescriptions/{rx}/pdf",
                                 "/api/prescriptions/by-proforma/{pf}", "/api/clinical-proformas/{pf}",
                                 "/fhir/MedicationRequest?patient={patient}", "/fhir/Condition?patient={patient}",
                                 "/fhir/Patient/{patient}/$everything", "/fhir/Observation?patient={patient}",
                                 "/fhir/QuestionnaireResponse?patient={patient}"])
def test_a_welfare_officer_reads_no_clinical_record_on_the_api_or_fhir(client, world, url):
    pf, rx = world["records"]["resident"]
    resp = client.get(url.format(pf=pf, rx=rx, patient=world["patient"]["id"]), headers=world["h"]["pwo"])
    assert resp.status_code == 403
    assert b"Sertraline" not in resp.data and b"Depression" not in resp.data


@pytest.mark.parametrize("url", ["/prescriptions/{rx}", "/prescriptions/{rx}/pdf", "/clinical/proformas/{pf}"])
def test_a_welfare_officer_reads_no_clinical_record_on_the_pages(world, url):
    pf, rx = world["records"]["resident"]
    resp = world["pages"]["pwo"].get(url.format(pf=pf, rx=rx))
    assert resp.status_code == 403 and b"Sertraline" not in resp.data


def test_the_patient_page_shows_a_welfare_officer_no_diagnosis_or_medicine(world):
    page = world["pages"]["pwo"].get(f"/patients/{world['patient']['id']}").get_data(as_text=True)
    assert "Walk-in proforma" in page  # the visit is there ...
    assert "Depression" not in page and "Sertraline" not in page  # ... its clinical content is not
    doctor = world["pages"]["resident"].get(f"/patients/{world['patient']['id']}").get_data(as_text=True)
    assert "Depression" in doctor and "Sertraline" in doctor


def test_withdrawn_records_stay_and_only_an_admin_restores_them(client, world):
    pf, rx = world["records"]["resident"]
    h = world["h"]
    assert client.delete(f"/api/clinical-proformas/{pf}", json={"reason": "Opened for the wrong patient"},
                         headers=h["resident"]).status_code == 200
    row = db.session.get(ClinicalProforma, pf)
    assert not row.is_active and row.withdrawal_reason == "Opened for the wrong patient"
    assert client.get(f"/api/clinical-proformas/{pf}", headers=h["faculty"]).status_code == 404
    page = world["pages"]["admin"].get("/clinical/withdrawn").get_data(as_text=True)
    assert "Opened for the wrong patient" in page
    assert world["pages"]["faculty"].post(f"/clinical/withdrawn/proforma/{pf}/restore").status_code == 403
    assert world["pages"]["admin"].post(f"/clinical/withdrawn/proforma/{pf}/restore").status_code == 302
    assert client.get(f"/api/clinical-proformas/{pf}", headers=h["faculty"]).status_code == 200
    from emrs.audit.models import AuditLog
    actions = [a for (a,) in db.session.execute(select(AuditLog.action).where(
        AuditLog.entity == "clinical_proforma", AuditLog.entity_id == str(pf)).order_by(AuditLog.id))]
    assert actions.index("proforma_withdraw") < actions.index("proforma_restore")


@pytest.mark.parametrize("path", ["profile", "clinical-records", "adl-files"])
def test_the_patient_api_shows_a_welfare_officer_no_clinical_record(client, world, path):
    pid = world["patient"]["id"]
    pwo = client.get(f"/api/patients/{pid}/{path}", headers=world["h"]["pwo"])
    assert pwo.status_code == 200 and b"Depression" not in pwo.data
    if path != "adl-files":
        doctor = client.get(f"/api/patients/{pid}/{path}", headers=world["h"]["resident"])
        assert b"Depression" in doctor.data
