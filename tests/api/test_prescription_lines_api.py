"""Structured prescription lines through /api/prescriptions: strength and form round-trip, the
original's keys keep working, a strength in Dosage and an absurd duration are refused with a
message naming the field, the quantity is computed, a prescription with no medicine is not
printed, and the OpenAPI document describes the new keys."""
from __future__ import annotations

import shutil
import subprocess

import pytest


from ..factories import create_proforma, register_patient


@pytest.fixture
def proforma(client, h):
    p = register_patient(client, h["pwo"], name="Harpreet Sandhu", sex="M")
    return create_proforma(client, h["resident"], p["id"])


def _save(client, h, proforma, lines, who="resident"):
    return client.post("/api/prescriptions", json={"patient_id": proforma["patient_id"],
                                                   "clinical_proforma_id": proforma["id"], "prescription": lines},
                       headers=h[who])


def test_strength_and_form_round_trip_and_quantity_is_computed(client, h, proforma):
    resp = _save(client, h, proforma, [
        {"medicine": "Escitalopram", "strength": "10mg", "form": "tab", "dosage": "0-0-1",
         "when_to_take": "After Food", "duration_value": 30, "duration_unit": "days"},
        {"medicine": "Olanzapine", "strength": "5 mg", "form": "tablet", "dosage": "½-0-1",
         "duration": "2 weeks"},
        {"medicine": "Sodium Valproate", "strength": "500 mg", "form": "syrup", "dosage": "BD", "duration": "1 month"}])
    assert resp.status_code == 201, resp.get_json()
    lines = resp.get_json()["data"]["prescription"]["prescription"]
    first = lines[0]
    assert (first["medicine"], first["strength"], first["form"]) == ("Escitalopram", "10 mg", "tablet")
    assert (first["duration"], first["duration_value"], first["duration_unit"]) == ("30 Days", 30, "days")
    assert first["quantity"] == "30"  # 0-0-1 for 30 days
    assert lines[1]["quantity"] == "21" and lines[1]["duration_value"] == 14 // 7 and lines[1]["duration"] == "2 weeks"
    assert lines[2]["quantity"] == ""  # a syrup is not counted in tablets
    rx_id = resp.get_json()["data"]["prescription"]["id"]
    again = client.get(f"/api/prescriptions/{rx_id}", headers=h["faculty"]).get_json()["data"]["prescription"]
    assert again["prescription"][0]["strength"] == "10 mg" and again["prescription"][0]["form"] == "tablet"


def test_a_given_quantity_is_kept(client, h, proforma):
    resp = _save(client, h, proforma, [{"medicine": "Escitalopram", "strength": "10 mg", "dosage": "1-0-0",
                                        "duration": "1 Month", "quantity": "35"}])
    assert resp.get_json()["data"]["prescription"]["prescription"][0]["quantity"] == "35"


def test_the_original_keys_keep_working(client, h, proforma):
    resp = _save(client, h, proforma, [{"medicine": "Sertraline 50 mg", "dosage": "0-0-1", "when": "after food",
                                        "duration": "1 Month", "qty": "30"}])
    assert resp.status_code == 201, resp.get_json()
    line = resp.get_json()["data"]["prescription"]["prescription"][0]
    assert line["medicine"] == "Sertraline 50 mg" and line["when_to_take"] == "after food"
    assert line["duration"] == "1 Month" and line["quantity"] == "30"
    assert line["strength"] == "" and line["form"] == ""
    assert (line["duration_value"], line["duration_unit"]) == (1, "months")


@pytest.mark.parametrize("dosage", ["300mg", "300mg 1-0-1", "1-0-1 300 mg", "0.5 g BD"])
def test_a_strength_in_dosage_is_refused(client, h, proforma, dosage):
    resp = _save(client, h, proforma, [{"medicine": "Lithium Carbonate", "strength": "300 mg", "dosage": dosage}])
    body = resp.get_json()
    assert resp.status_code == 400 and body["success"] is False
    assert "Strength field" in body["message"] and body["errors"][0]["path"] == "prescription[0].dosage"


@pytest.mark.parametrize("line, path", [
    ({"duration": "500 years"}, "prescription[0].duration"),
    ({"duration": "400 days"}, "prescription[0].duration"),
    ({"duration_value": 53, "duration_unit": "weeks"}, "prescription[0].duration"),
    ({"duration_value": "x", "duration_unit": "days"}, "prescription[0].duration_value"),
])
def test_an_absurd_duration_is_refused(client, h, proforma, line, path):
    resp = _save(client, h, proforma, [{"medicine": "Escitalopram", "strength": "10 mg", "dosage": "0-0-1", **line}])
    body = resp.get_json()
    assert resp.status_code == 400, body
    assert body["errors"][0]["path"] == path
    if path.endswith("duration"):
        assert "at most 1 year" in body["message"]


def test_other_wrong_fields_name_the_field(client, h, proforma):
    resp = _save(client, h, proforma, [
        {"medicine": "Escitalopram", "strength": "15 mg", "dosage": "0-0-1"},
        {"medicine": "Clonazepam", "form": "lozenge", "dosage": "take one", "when_to_take": "after tea"}])
    body = resp.get_json()
    assert resp.status_code == 400
    paths = [e["path"] for e in body["errors"]]
    assert paths == ["prescription[0].strength", "prescription[1].form", "prescription[1].dosage",
                     "prescription[1].when_to_take"]
    assert "Escitalopram comes as 5 mg, 10 mg, 20 mg" in body["errors"][0]["msg"]
    # Nothing was saved.
    assert client.get(f"/api/prescriptions/by-proforma/{proforma['id']}", headers=h["faculty"]).status_code == 404


def test_off_formulary_strength_is_free_text(client, h, proforma):
    resp = _save(client, h, proforma, [{"medicine": "Ibuprofen", "strength": "400mg", "dosage": "SOS"}])
    assert resp.status_code == 201 and resp.get_json()["data"]["prescription"]["prescription"][0]["strength"] == "400 mg"


def test_a_merged_duplicate_resolves_to_its_entry(client, h, proforma):
    # "Lithium" is now another name of Lithium Carbonate: its strengths apply.
    bad = _save(client, h, proforma, [{"medicine": "Lithium", "strength": "250 mg", "dosage": "1-0-1"}])
    assert bad.status_code == 400 and "Lithium comes as 300 mg, 400 mg" in bad.get_json()["message"]
    assert _save(client, h, proforma, [{"medicine": "Lithium", "strength": "300 mg", "dosage": "1-0-1"}]
                 ).status_code == 201


def test_a_prescription_without_medicine_is_not_printed(client, h, proforma):
    resp = _save(client, h, proforma, [{"medicine": "", "dosage": "1-0-1"}])
    assert resp.status_code == 201
    rx_id = resp.get_json()["data"]["prescription"]["id"]
    pdf = client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"])
    assert pdf.status_code == 400 and pdf.get_json()["code"] == "NO_MEDICINE"
    assert "no medicine" in pdf.get_json()["message"]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")
def test_the_pdf_prints_the_strength(client, h, proforma, tmp_path):
    resp = _save(client, h, proforma, [{"medicine": "Escitalopram", "strength": "10 mg", "form": "tablet",
                                        "dosage": "0-0-1", "when_to_take": "After Food", "duration_value": 1,
                                        "duration_unit": "months"}])
    rx_id = resp.get_json()["data"]["prescription"]["id"]
    pdf = client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"])
    path = tmp_path / "rx.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Escitalopram 10 mg" in text
    assert "Take 1 tablet at night, after food, for 1 month." in " ".join(text.split())


def test_openapi_shows_strength_and_form(client):
    doc = client.get("/api/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    line_in = schemas["PrescriptionLineInput"]["properties"]
    for key in ("strength", "form", "duration_value", "duration_unit", "medicine", "dosage", "when", "qty"):
        assert key in line_in, key
    assert "Strength field" not in line_in["dosage"]["description"] and "strength" in line_in["dosage"]["description"]
    assert "tablet" in line_in["form"]["description"]
    assert {"strength", "form"} <= set(schemas["PrescriptionLine"]["properties"])
