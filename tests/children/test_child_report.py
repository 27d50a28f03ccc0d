"""The patient report of a child: the child walk-in proforma's card carries the child form's own
sections (not the adult form's fields) and the CAP work-up is labelled as such, in the A4 PDF
(read with pdftotext) and in the Excel workbook."""
from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from .test_child_api import register_child


def _child_with_records(client, h):
    child = register_child(client, h["pwo"])
    pf = client.post("/api/child-clinical-proformas", headers=h["resident"], json={
        "child_patient_id": child["id"], "provisional_diagnosis": "ADHD, combined presentation", "icd_code": "6A05.2",
        "school_type": "Govt", "presenting_complaints": "Restless in class, cannot sit through lessons",
        "behavioral_concerns": ["inattention", "hyperactivity"], "mse_rapport": "Easily established",
        "psychological_treatment": ["Parent Management Training"]})
    assert pf.status_code == 201, pf.get_json()
    cap = client.post("/api/child-cap-workup", headers=h["resident"], json={
        "child_patient_id": child["id"], "school_type": "Private", "impairment_severity": "Moderate"})
    assert cap.status_code == 201, cap.get_json()
    return child, cap.get_json()["data"]["record"]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_shows_the_child_form_sections_and_the_cap_workup(client, h, tmp_path):
    child, cap = _child_with_records(client, h)
    resp = client.get(f"/api/patients/{child['id']}/report?format=pdf", headers=h["faculty"])
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    path = tmp_path / "child-report.pdf"
    path.write_bytes(resp.data)
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Child walk-in clinical proforma" in text
    assert "Restless in class, cannot sit through lessons" in text and "Inattention, Hyperactivity" in text
    assert "Easily established" in text and "Parent Management Training" in text and "Govt" in text
    assert "ADHD, combined presentation" in text
    assert "Precipitating factor" not in text  # the adult form's fields are not offered for a child
    assert "CAP work-up (child and adolescent psychiatry)" in text and cap["adl_no"] in text
    assert "Moderate" in text and "Out-patient intake record" not in text


def test_xlsx_marks_the_child_form_and_the_cap_workup(client, h):
    child, cap = _child_with_records(client, h)
    resp = client.get(f"/api/patients/{child['id']}/report?format=xlsx", headers=h["faculty"])
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.data))
    sheet = book["Clinical Proformas"]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]]))
    assert row["Form"] == "Child walk-in proforma" and row["Diagnosis"] == "ADHD, combined presentation"
    assert "Presenting complaints: Restless in class" in row["Child Form Sections"]
    assert "Behavioural concerns: Inattention, Hyperactivity" in row["Child Form Sections"]
    intake = book["Intake Records"]
    header = [c.value for c in intake[1]]
    row = dict(zip(header, [c.value for c in intake[2]]))
    assert row["Record"] == "CAP work-up" and row["ADL No"] == cap["adl_no"]
