"""The patient report's "Rating scales" section (PDF and Excel, one patient and bulk): one row
per active assessment with its total, severity, risk items and their acknowledgement, who
entered and confirmed it, and each instrument's change since the first score — for clinicians
only (a welfare officer's report and export keep the patient's details only)."""
from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from emrs.timeutil import today_ist

from ..factories import prescribed

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

FIRST = {f"q{i}": 2 for i in range(1, 10)}                 # PHQ-9 18, item 9 positive
LATEST = {**{f"q{i}": 1 for i in range(1, 9)}, "q9": 0}    # PHQ-9 8: down 10 (−56 %), a response
GAD7 = {f"q{i}": 1 for i in range(1, 8)}                  # GAD-7 7


def _score(client, headers, pid, code, answers, **extra) -> dict:
    resp = client.post(f"/api/patients/{pid}/assessments", headers=headers,
                       json={"instrument": code, "answers": answers, **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["assessment"]


@pytest.fixture
def rated(client, h):
    seen = prescribed(client, h, patient={"name": "Kuldeep Singh Brar"})
    pid = seen["patient"]["id"]
    earlier = (today_ist() - dt.timedelta(days=56)).isoformat()
    first = _score(client, h["resident"], pid, "phq9", FIRST, assessed_on=earlier)
    resp = client.post(f"/api/assessments/{first['id']}/acknowledge", headers=h["faculty"],
                       json={"action": "Safety plan made with the family"})
    assert resp.status_code == 200, resp.get_json()
    latest = _score(client, h["resident"], pid, "phq9", LATEST)
    gad = _score(client, h["pwo"], pid, "gad7", GAD7)
    dropped = _score(client, h["resident"], pid, "gad7", {f"q{i}": 3 for i in range(1, 8)})
    assert client.delete(f"/api/assessments/{dropped['id']}", headers=h["resident"],
                         json={"reason": "Entered twice"}).status_code == 200
    return {"pid": pid, "first": first, "latest": latest, "gad7": gad, "earlier": earlier}


def _book(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == XLSX
    return load_workbook(io.BytesIO(resp.data))


def _sheet(book, name) -> list[dict]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def _day(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%d %b %Y")


def test_clinicians_excel_has_one_row_per_assessment(client, h, users, rated):
    book = _book(client.get(f"/api/patients/{rated['pid']}/report?format=xlsx", headers=h["faculty"]))
    rows = _sheet(book, "Rating Scales")
    assert [(r["Date"], r["Instrument"], r["Total"], r["Max"], r["Severity"]) for r in rows] == [
        (_day(rated["earlier"]), "PHQ-9", 18, 27, "Moderately severe"),
        (_day(rated["latest"]["assessed_on"]), "PHQ-9", 8, 27, "Mild"),
        (_day(rated["gad7"]["assessed_on"]), "GAD-7", 7, 21, "Mild")]  # the withdrawn GAD-7 is absent
    first, latest, gad = rows
    assert first["Risk Items"] == "item q9 = 2"
    assert first["Risk Acknowledged"].startswith("Acknowledged ") and users["faculty"].name in first["Risk Acknowledged"]
    assert first["Action Taken"] == "Safety plan made with the family"
    assert latest["Risk Items"] is None and latest["Risk Acknowledged"] is None
    assert first["Entered By"] == users["resident"].name and first["Confirmed"] == "Yes"
    assert gad["Entered By"] == f"{users['pwo'].name}, entered by the welfare officer"
    assert gad["Confirmed"] == "No: awaiting a clinician's confirmation"
    # The change since the first score stands on each instrument's latest row.
    assert first["Change Since First Score"] is None
    assert latest["Change Since First Score"].startswith("Down 10 points (−56 %)")
    assert "response" in latest["Change Since First Score"]
    assert gad["Change Since First Score"] == "One score so far"


def test_bulk_export_has_the_same_sheet(client, h, rated):
    other = prescribed(client, h, patient={"name": "Baldev Raj"})
    _score(client, h["resident"], other["patient"]["id"], "gad7", {f"q{i}": 2 for i in range(1, 8)})
    book = _book(client.post("/api/patients/reports/bulk", headers=h["admin"],
                             json={"patient_ids": [rated["pid"], other["patient"]["id"]]}))
    rows = _sheet(book, "Rating Scales")
    assert [(r["Patient ID"], r["Instrument"], r["Total"]) for r in rows] == [
        (rated["pid"], "PHQ-9", 18), (rated["pid"], "PHQ-9", 8), (rated["pid"], "GAD-7", 7),
        (other["patient"]["id"], "GAD-7", 14)]


def test_welfare_officer_exports_no_scores(client, h, rated):
    book = _book(client.get(f"/api/patients/{rated['pid']}/report?format=xlsx", headers=h["pwo"]))
    assert book.sheetnames == ["Patient Details"]
    book = _book(client.post("/api/patients/reports/bulk", headers=h["pwo"], json={"patient_ids": [rated["pid"]]}))
    assert "Rating Scales" not in book.sheetnames


def _pdf_text(client, headers, pid, tmp_path) -> str:
    resp = client.get(f"/api/patients/{pid}/report?format=pdf", headers=headers)
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(resp.data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())  # cells wrap: compare the words in reading order


@needs_poppler
def test_clinicians_pdf_shows_the_scores(client, h, rated, tmp_path):
    text = _pdf_text(client, h["resident"], rated["pid"], tmp_path)
    for expected in ("Rating scales", "PHQ-9", "18 / 27", "8 / 27", "GAD-7", "7 / 21", "Moderately severe",
                     "item q9 = 2", "Safety plan made with the family", "awaiting a clinician",
                     "Down 10 points", "One score so far", _day(rated["earlier"])):
        assert expected in text, expected


@needs_poppler
def test_welfare_officers_pdf_shows_no_scores(client, h, rated, tmp_path):
    text = _pdf_text(client, h["pwo"], rated["pid"], tmp_path)
    assert "Kuldeep Singh Brar" in text
    for hidden in ("Rating scales", "PHQ-9", "GAD-7", "18 / 27", "Safety plan"):
        assert hidden not in text, hidden
