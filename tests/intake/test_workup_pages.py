"""The intake-record work-up: section by section over two visits, nothing lost;
section index; 409 on a stale section save; one record per patient."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from emrs.drafts.models import Draft
from emrs.extensions import db
from emrs.intake.models import IntakeRecord
from emrs.patients.models import Patient


def _record(client_resident):
    p = Patient(name="Navjot Singh", sex="M", age=33, cr_no="CRTEST200001", name_key="nvjt sng")
    db.session.add(p)
    db.session.commit()
    resp = client_resident.post("/intake/open", data={"patient_id": str(p.id)})
    assert resp.status_code == 302
    rid = int(re.search(r"/intake/(\d+)/edit", resp.headers["Location"]).group(1))
    return p, db.session.get(IntakeRecord, rid)


def test_one_record_per_patient_and_the_form(role_client):
    c = role_client("resident")
    p, rec = _record(c)
    again = c.post("/intake/open", data={"patient_id": str(p.id)})
    assert again.headers["Location"].endswith(f"/intake/{rec.id}/edit")
    assert db.session.execute(select(func.count(IntakeRecord.id)).where(IntakeRecord.patient_id == p.id)).scalar_one() == 1
    html = c.get(f"/intake/{rec.id}/edit").get_data(as_text=True)
    for title in ("Informants", "History of present illness", "Family history", "Premorbid personality",
                  "Physical examination", "Mental status examination", "Diagnostic formulation", "Final assessment"):
        assert title in html
    assert "0 of 16 sections filled" in html and 'data-autosave-key="intake:' in html
    assert role_client("pwo").get(f"/intake/{rec.id}/edit").status_code == 403


def test_section_by_section_over_two_visits(role_client):
    c = role_client("resident")
    p, rec = _record(c)
    v = rec.version
    resp = c.post(f"/intake/{rec.id}/section/informants", headers={"HX-Request": "true"},
                  data={"version": str(v), "informants-0-relationship": "Wife", "informants-0-name": "Harpreet",
                        "informants-0-reliability": "Reliable", "informants-1-name": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Saved." in html
    assert 'id="intake-version"' in html and f'value="{v + 1}"' in html and 'hx-swap-oob="true"' in html
    resp = c.post(f"/intake/{rec.id}/section/history_present_illness", headers={"HX-Request": "true"},
                  data={"version": str(v + 1), "history_narrative": "Low mood for 2 years after job loss",
                        "history_treatment_dates": "2024-03-01"})
    assert resp.status_code == 200
    # A later visit: the rest.
    resp = c.post(f"/intake/{rec.id}/section/family_history", headers={"HX-Request": "true"},
                  data={"version": str(v + 2), "family_history_father_age": "64", "family_history_father_deceased": "on",
                        "family_history_siblings-0-age": "30", "family_history_siblings-0-sex": "F"})
    assert resp.status_code == 200
    rec = db.session.get(IntakeRecord, rec.id)
    assert rec.informants == [{"relationship": "Wife", "name": "Harpreet", "reliability": "Reliable"}]
    assert rec.history_narrative.startswith("Low mood") and str(rec.history_treatment_dates) == "2024-03-01"
    assert rec.family_history_father_age == 64 and rec.family_history_father_deceased is True
    assert rec.family_history_siblings == [{"age": "30", "sex": "F"}]
    page = c.get(f"/intake/{rec.id}/edit").get_data(as_text=True)
    assert "3 of 16 sections filled" in page and 'class="wu-filled"><a href="#sec-informants"' in page
    show = c.get(f"/intake/{rec.id}").get_data(as_text=True)
    assert "Harpreet" in show and "Low mood for 2 years after job loss" in show


def test_stale_section_save_is_409_and_keeps_typing(role_client):
    a, b = role_client("resident"), role_client("faculty")
    p, rec = _record(a)
    v = rec.version
    assert b.post(f"/intake/{rec.id}/section/final_assessment", headers={"HX-Request": "true"},
                  data={"version": str(v), "treatment_plan": "Faculty plan"}).status_code == 200
    resp = a.post(f"/intake/{rec.id}/section/final_assessment", headers={"HX-Request": "true"},
                  data={"version": str(v), "treatment_plan": "Resident plan typed at length"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "changed by someone else" in html and "Resident plan typed at length" in html
    assert db.session.get(IntakeRecord, rec.id).treatment_plan == "Faculty plan"


def test_bad_values_are_refused_clearly(role_client):
    c = role_client("resident")
    p, rec = _record(c)
    resp = c.post(f"/intake/{rec.id}/section/family_history", headers={"HX-Request": "true"},
                  data={"version": str(rec.version), "family_history_father_age": "abc",
                        "family_history_father_death_date": "31/12/2020"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "must be a whole number" in html and "must be a date" in html
    assert c.post(f"/intake/{rec.id}/section/nonsense", data={}).status_code == 404
    assert c.get("/intake/99999999/edit").status_code == 404


def test_section_drafts_are_offered_and_cleared(role_client, users):
    c = role_client("resident")
    p, rec = _record(c)
    key = f"intake:{rec.id}:final_assessment"
    c.post("/drafts/save", headers={"HX-Request": "true"},
           data={"_draft_key": key, "_draft_patient": str(p.id), "provisional_diagnosis": "Half typed"})
    html = c.get(f"/intake/{rec.id}/edit").get_data(as_text=True)
    assert "Unsaved draft restored from" in html and "Half typed" in html
    c.post(f"/intake/{rec.id}/section/final_assessment", headers={"HX-Request": "true"},
           data={"version": str(rec.version), "provisional_diagnosis": "Half typed, now finished"})
    assert db.session.execute(select(Draft).where(Draft.form_key == key)).first() is None


def test_list_and_timeline(role_client):
    c = role_client("resident")
    p, rec = _record(c)
    assert rec.adl_no in c.get("/intake/").get_data(as_text=True)
    assert rec.adl_no in c.get("/intake/?file_status=created").get_data(as_text=True)
    assert rec.adl_no not in c.get("/intake/?file_status=stored").get_data(as_text=True)
    assert f"Intake record {rec.adl_no}" in c.get(f"/patients/{p.id}").get_data(as_text=True)


def test_attachments_reuse_patient_files(role_client, app):
    import io
    c = role_client("resident")
    p, rec = _record(c)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    resp = c.post(f"/patients/{p.id}/files", headers={"HX-Request": "true"}, content_type="multipart/form-data",
                  data={"intake_record_id": str(rec.id), "files": (io.BytesIO(png), "ecg.png")})
    assert resp.status_code == 200 and "intake record" in resp.get_data(as_text=True)
    from emrs.patients.models import PatientFile
    row = db.session.execute(select(PatientFile).where(PatientFile.patient_id == p.id)).scalar_one()
    assert row.intake_record_id == rec.id
    panel = c.get(f"/patients/{p.id}/files?intake={rec.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'name="intake_record_id" value="{rec.id}"' in panel and "ecg.png" in panel
    # Another patient's intake record id is refused and nothing is stored.
    other = Patient(name="Other One", sex="F", age=20, cr_no="CRTEST200002", name_key="othr on")
    db.session.add(other)
    db.session.commit()
    resp = c.post(f"/patients/{other.id}/files", headers={"HX-Request": "true"}, content_type="multipart/form-data",
                  data={"intake_record_id": str(rec.id), "files": (io.BytesIO(png), "x.png")})
    assert resp.status_code == 422
    assert db.session.execute(select(func.count(PatientFile.id)).where(PatientFile.patient_id == other.id)).scalar_one() == 0
