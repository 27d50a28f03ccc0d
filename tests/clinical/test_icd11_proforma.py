"""What the proforma stores when coded: the code, its system, the title from the classification and
the version it was taken from (icd_version: the ICD-11 MMS release, "local" for a hospital
addition, the ICD-10 edition 2019) — shown on the proforma page, printed on the prescription PDF
and sent in FHIR Condition.code.coding.version."""
from __future__ import annotations

import shutil
import subprocess
from html import unescape

import pytest

from emrs.clinical import icd11
from emrs.clinical import icd11_import as importer
from emrs.timeutil import today_ist

from ..fhir.conftest import fhir_body
from .test_icd11_import import FIXTURE


@pytest.fixture
def h(users, bearer):
    return {k: bearer(u) for k, u in users.items()}


@pytest.fixture
def patient(client, h):
    resp = client.post("/api/patients/register-complete", json={"name": "Harbhajan Kaur", "age": 38, "sex": "F"},
                       headers=h["pwo"])
    return resp.get_json()["data"]["patient"]


def _create(client, h, patient, **fields):
    body = {"patient_id": patient["id"], "visit_date": today_ist().isoformat(), "diagnosis": "Low mood", **fields}
    resp = client.post("/api/clinical-proformas", json=body, headers=h["resident"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["proforma"]


@pytest.mark.parametrize("sent,code,system,title,version", [
    ({"icd_code": "6a71", "icd_title": "typed title is replaced"}, "6A71", "ICD-11", "Recurrent depressive disorder",
     "2026-01"),
    ({"icd_code": "6A71.1", "icd_title": "Recurrent depressive disorder, current episode moderate"}, "6A71.1",
     "ICD-11", "Recurrent depressive disorder, current episode moderate", None),
    ({"icd_code": "F32.1", "icd_title": ""}, "F32.1", "ICD-10", "Moderate depressive episode", "2019"),
    ({"icd_code": "f321"}, "F32.1", "ICD-10", "Moderate depressive episode", "2019"),
    ({"icd_code": "F99.9"}, "F99.9", "ICD-10", None, None),
])
def test_the_code_is_stored_with_system_title_and_version(client, h, patient, sent, code, system, title, version):
    p = _create(client, h, patient, **sent)
    assert (p["icd_code"], p["icd_system"], p["icd_title"], p["icd_version"]) == (code, system, title, version)


def test_the_proforma_page_shows_code_title_and_version(client, h, patient, role_client):
    c = role_client("resident")
    coded = _create(client, h, patient, icd_code="6A70")
    page = unescape(c.get(f"/clinical/proformas/{coded['id']}").get_data(as_text=True))
    assert "6A70 (ICD-11)" in page and "Single episode depressive disorder" in page
    assert "ICD-11 MMS release 2026-01" in page
    typed = _create(client, h, patient, icd_code="6A70.1")
    page = unescape(c.get(f"/clinical/proformas/{typed['id']}").get_data(as_text=True))
    assert "6A70.1 (ICD-11)" in page and "not in the loaded ICD-11 release" in page
    ten = _create(client, h, patient, icd_code="F20.0")
    page = unescape(c.get(f"/clinical/proformas/{ten['id']}").get_data(as_text=True))
    assert "F20.0 (ICD-10)" in page and "ICD-10 2019" in page


def test_the_page_form_stores_the_picked_code_and_its_release(role_client, patient):
    c = role_client("resident")
    resp = c.post(f"/clinical/proformas/new?patient_id={patient['id']}", data={
        "visit_date": today_ist().isoformat(), "diagnosis": "Obsessions", "icd_code": "6B20",
        "icd_title": "Obsessive-compulsive disorder", "icd_system": "ICD-11", "doctor_decision": "simple_case"})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]
    page = unescape(c.get(resp.headers["Location"]).get_data(as_text=True))
    assert "6B20 (ICD-11)" in page and "ICD-11 MMS release 2026-01" in page


def test_a_local_entry_is_stored_as_local(client, h, users, patient):
    local = icd11.add_local(icd11.roots()[0].id, "Dhat syndrome (local)", "6Z90", users["admin"])
    p = _create(client, h, patient, icd_code="6z90")
    assert (p["icd_code"], p["icd_system"], p["icd_title"], p["icd_version"]) == (
        "6Z90", "ICD-11", "Dhat syndrome (local)", "local")
    bundle = fhir_body(client.get("/fhir/Condition", query_string={"patient": patient["id"]}, headers=h["resident"]))
    coding = bundle["entry"][0]["resource"]["code"]["coding"]
    assert coding == [{"system": "https://emrs.pgimer.edu.in/fhir/sid/icd11-local", "code": "6Z90",
                       "display": "Dhat syndrome (local)"}]
    assert local.is_active


def test_fhir_condition_carries_the_release_as_coding_version(client, h, patient):
    _create(client, h, patient, icd_code="6B00")
    _create(client, h, patient, icd_code="6B01.1", icd_title="Panic, typed")
    bundle = fhir_body(client.get("/fhir/Condition", query_string={"patient": patient["id"]}, headers=h["faculty"]))
    codings = sorted((e["resource"]["code"]["coding"][0] for e in bundle["entry"]), key=lambda c: c["code"])
    assert codings == [
        {"system": "http://id.who.int/icd/release/11/mms", "version": "2026-01", "code": "6B00",
         "display": "Generalised anxiety disorder"},
        {"system": "http://id.who.int/icd/release/11/mms", "code": "6B01.1", "display": "Panic, typed"}]


def test_an_amendment_keeps_the_release_the_code_was_taken_from(client, h, patient):
    p = _create(client, h, patient, icd_code="6A71")
    importer.import_file(FIXTURE)  # a newer release (named by the file's header) becomes the tree
    resp = client.put(f"/api/clinical-proformas/{p['id']}", json={"icd_code": "6A71", "gpe": "BP 120/80",
                                                                  "version": p["version"]}, headers=h["resident"])
    assert resp.status_code == 200, resp.get_json()
    again = resp.get_json()["data"]["clinical_proforma"]
    assert again["icd_version"] == "2026-01" and again["icd_title"] == "Recurrent depressive disorder"
    # Coded again with another code, it takes that code's current release.
    resp = client.put(f"/api/clinical-proformas/{p['id']}", json={"icd_code": "6A70", "version": again["version"]},
                      headers=h["resident"])
    assert resp.get_json()["data"]["clinical_proforma"]["icd_version"] == "2026 Apr 15 - 14:33 UTC"



def test_a_code_stored_without_a_version_is_looked_up_again(client, h, users, patient):
    typed = _create(client, h, patient, icd_code="6A70.5", icd_title="Typed by hand")
    assert typed["icd_version"] is None
    icd11.add_local(icd11.lookup("6A70").id, "Local subtype (test data)", "6A70.5", users["admin"])
    resp = client.put(f"/api/clinical-proformas/{typed['id']}", json={"icd_code": "6A70.5",
                                                                      "version": typed["version"]},
                      headers=h["resident"])
    again = resp.get_json()["data"]["clinical_proforma"]
    assert (again["icd_version"], again["icd_title"]) == ("local", "Local subtype (test data)")


def test_clearing_the_code_clears_system_title_and_version(client, h, patient):
    p = _create(client, h, patient, icd_code="6A70")
    resp = client.put(f"/api/clinical-proformas/{p['id']}", json={"icd_code": "", "version": p["version"]},
                      headers=h["resident"])
    cleared = resp.get_json()["data"]["clinical_proforma"]
    assert (cleared["icd_code"], cleared["icd_system"], cleared["icd_title"], cleared["icd_version"]) == (
        None, None, None, None)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")
def test_the_prescription_pdf_prints_code_title_and_version(client, h, patient, tmp_path):
    p = _create(client, h, patient, icd_code="6A71", diagnosis="Recurrent depression",
                prescriptions=[{"medicine": "Escitalopram 10 mg", "dosage": "0-0-1", "duration": "1 Month"}])
    rx = client.get(f"/api/prescriptions/by-proforma/{p['id']}", headers=h["resident"]).get_json()["data"]
    rx_id = rx["prescription"]["id"]
    resp = client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"])
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    path = tmp_path / "rx.pdf"
    path.write_bytes(resp.data)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True,
                                   timeout=60).stdout.split())
    assert "Recurrent depression (ICD-11 6A71 Recurrent depressive disorder; ICD-11 MMS 2026-01)" in text
    ten = _create(client, h, patient, icd_code="F32.1", diagnosis="Depression",
                  prescriptions=[{"medicine": "Sertraline 50 mg", "dosage": "1-0-0"}])
    rx_id = client.get(f"/api/prescriptions/by-proforma/{ten['id']}", headers=h["resident"]
                       ).get_json()["data"]["prescription"]["id"]
    path.write_bytes(client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"]).data)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True,
                                   timeout=60).stdout.split())
    assert "(ICD-10 F32.1 Moderate depressive episode; ICD-10 2019)" in text
