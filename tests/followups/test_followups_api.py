"""/api/follow-ups: the original's shapes, the returning-patient rule, the day's visit,
visit numbers, amendments with versions, withdrawal, and who may do what."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.followups.models import FollowUp
from emrs.patients.models import PatientVisit
from emrs.timeutil import today_ist
from emrs.versioning import ClinicalVersion

from ..factories import create_proforma, register_patient

NOTE = "Mood better, sleeping 6 hours, no side effects. Continue."


def _returning(client, h, doctor="resident", days_ago=60):
    """A patient registered by the welfare officer and seen with a walk-in proforma ``days_ago``."""
    p = register_patient(client, h["pwo"])
    create_proforma(client, h[doctor], p["id"], visit_date=(today_ist() - dt.timedelta(days=days_ago)).isoformat())
    return p


def _create(client, headers, patient_id, **fields):
    resp = client.post("/api/follow-ups", json={"patient_id": patient_id, "clinical_assessment": NOTE, **fields},
                       headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]


def _count():
    return db.session.execute(select(func.count(FollowUp.id))).scalar_one()


def test_create_answers_the_original_shape_with_visit_numbers(client, h, users):
    p = _returning(client, h)
    resp = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE}, headers=h["resident"])
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["success"] is True and body["message"] == "Follow-up visit saved successfully"
    data = body["data"]
    assert set(data) == {"followup", "visit_number", "total_visits"}
    assert (data["visit_number"], data["total_visits"]) == (1, 1)
    f = data["followup"]
    assert f["patient_id"] == p["id"] and f["clinical_assessment"] == NOTE
    assert f["visit_date"] == today_ist().isoformat()
    assert f["filled_by"] == users["resident"].id and f["assigned_doctor_id"] == users["resident"].id
    assert f["is_active"] is True and f["version"] == 1 and f["cr_no"] == p["cr_no"]
    second = _create(client, h["faculty"], p["id"])
    assert (second["visit_number"], second["total_visits"]) == (2, 2)


def test_visit_numbers_follow_the_visit_date_then_the_id(client, h):
    p = _returning(client, h)
    today = today_ist()
    a = _create(client, h["resident"], p["id"])                                          # today
    b = _create(client, h["resident"], p["id"], visit_date=(today - dt.timedelta(days=30)).isoformat())
    assert (b["visit_number"], b["total_visits"]) == (1, 2)   # an earlier day comes first
    listing = client.get(f"/api/follow-ups/patient/{p['id']}", headers=h["resident"]).get_json()["data"]
    assert [(f["id"], f["visit_number"]) for f in listing["followups"]] == [(a["followup"]["id"], 2),
                                                                             (b["followup"]["id"], 1)]
    assert listing["pagination"] == {"total": 2, "page": 1, "limit": 10, "pages": 1}
    page2 = client.get(f"/api/follow-ups/patient/{p['id']}?page=2&limit=1", headers=h["resident"]).get_json()["data"]
    assert [f["id"] for f in page2["followups"]] == [b["followup"]["id"]]
    assert page2["pagination"] == {"total": 2, "page": 2, "limit": 1, "pages": 2}


def test_a_visit_row_is_written_when_the_day_has_none(client, h, users):
    p = _returning(client, h)
    past = today_ist() - dt.timedelta(days=10)
    data = _create(client, h["resident"], p["id"], visit_date=past.isoformat())
    visit = db.session.get(PatientVisit, data["followup"]["visit_id"])
    assert visit.visit_date == past and visit.visit_type == "follow_up" and visit.patient_id == p["id"]
    assert visit.visit_status == "completed" and visit.assigned_doctor_id == users["resident"].id
    actions = [r.action for r in db.session.execute(select(AuditLog).where(AuditLog.patient_id == p["id"])).scalars()]
    assert "visit_create" in actions and "followup_create" in actions


def test_the_days_existing_visit_is_used(client, h):
    p = _returning(client, h)
    todays = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == p["id"],
                                                           PatientVisit.visit_date == today_ist())).scalars().all()
    before = db.session.execute(select(func.count(PatientVisit.id))).scalar_one()
    data = _create(client, h["resident"], p["id"])
    after = db.session.execute(select(func.count(PatientVisit.id))).scalar_one()
    if todays:
        assert data["followup"]["visit_id"] == todays[-1].id and after == before
    else:
        assert after == before + 1


def test_a_follow_up_before_the_first_visit_is_refused(client, h):
    p = _returning(client, h, days_ago=5)
    resp = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE,
                                                "visit_date": (today_ist() - dt.timedelta(days=9)).isoformat()},
                       headers=h["resident"])
    assert resp.status_code == 400 and "returning patient" in resp.get_json()["message"]


def test_a_first_visit_patient_is_refused_and_nothing_is_written(client, h):
    p = register_patient(client, h["pwo"])  # registered today, never seen
    before, visits = _count(), db.session.execute(select(func.count(PatientVisit.id))).scalar_one()
    resp = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                       headers=h["resident"])
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["success"] is False and "returning patient" in body["message"]
    assert body["errors"][0]["path"] == "patient_id"
    assert _count() == before
    assert db.session.execute(select(func.count(PatientVisit.id))).scalar_one() == visits


def test_bad_input_is_a_400_naming_each_field_and_changes_nothing(client, h):
    p = _returning(client, h)
    before = _count()
    cases = [
        ({"patient_id": p["id"]}, "clinical_assessment", "Clinical assessment is required"),
        ({"patient_id": p["id"], "clinical_assessment": "   "}, "clinical_assessment", "required"),
        ({"patient_id": p["id"], "clinical_assessment": "x" * 10_001}, "clinical_assessment", "at most 10,000"),
        ({"patient_id": p["id"], "clinical_assessment": 42}, "clinical_assessment", "must be text"),
        ({"patient_id": p["id"], "clinical_assessment": NOTE,
          "visit_date": (today_ist() + dt.timedelta(days=1)).isoformat()}, "visit_date", "cannot be after today"),
        ({"patient_id": p["id"], "clinical_assessment": NOTE, "visit_date": "31-12-2024"}, "visit_date", "YYYY-MM-DD"),
        ({"patient_id": p["id"], "clinical_assessment": NOTE, "assigned_doctor_id": 999999}, "assigned_doctor_id",
         "active Faculty member or Resident"),
        ({"patient_id": p["id"], "clinical_assessment": NOTE, "room_no": "Nowhere-99"}, "room_no",
         "not one of the OPD's rooms"),
        ({"clinical_assessment": NOTE}, "patient_id", "patient_id is required"),
        ({"patient_id": "abc", "clinical_assessment": NOTE}, "patient_id", "positive integer"),
    ]
    for body, path, words in cases:
        resp = client.post("/api/follow-ups", json=body, headers=h["resident"])
        assert resp.status_code == 400, (body, resp.get_json())
        errors = resp.get_json()["errors"]
        assert any(e["path"] == path and words in e["msg"] for e in errors), (body, errors)
    assert client.post("/api/follow-ups", json={"patient_id": 999999, "clinical_assessment": NOTE},
                       headers=h["resident"]).status_code == 404
    assert client.post("/api/follow-ups", data="not json", headers=h["resident"]).status_code == 400
    assert _count() == before


def test_a_welfare_officer_neither_writes_nor_reads_follow_ups(client, h):
    p = _returning(client, h)
    f = _create(client, h["resident"], p["id"])["followup"]
    before = _count()
    resp = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE}, headers=h["pwo"])
    assert resp.status_code == 403 and "Required roles" in resp.get_json()["message"]
    for method, url in (("GET", f"/api/follow-ups/{f['id']}"), ("GET", f"/api/follow-ups/patient/{p['id']}"),
                        ("PUT", f"/api/follow-ups/{f['id']}"), ("DELETE", f"/api/follow-ups/{f['id']}")):
        assert client.open(url, method=method, json={}, headers=h["pwo"]).status_code == 403
    assert _count() == before


def test_get_one_and_a_withdrawn_one_is_gone(client, h):
    p = _returning(client, h)
    f = _create(client, h["resident"], p["id"])["followup"]
    resp = client.get(f"/api/follow-ups/{f['id']}", headers=h["faculty"])
    assert resp.status_code == 200 and resp.get_json()["data"]["followup"]["id"] == f["id"]
    assert client.get("/api/follow-ups/999999", headers=h["faculty"]).status_code == 404
    assert client.get("/api/follow-ups/abc", headers=h["faculty"]).status_code == 400
    resp = client.delete(f"/api/follow-ups/{f['id']}", json={"reason": "Written for the wrong patient"},
                         headers=h["resident"])
    assert resp.status_code == 200 and resp.get_json()["data"]["followup"]["is_active"] is False
    assert client.get(f"/api/follow-ups/{f['id']}", headers=h["faculty"]).status_code == 404
    row = db.session.get(FollowUp, f["id"])
    assert row is not None and row.withdrawal_reason == "Written for the wrong patient"  # kept, never deleted
    listing = client.get(f"/api/follow-ups/patient/{p['id']}", headers=h["resident"]).get_json()["data"]
    assert listing["followups"] == [] and listing["pagination"]["total"] == 0


def test_withdrawal_needs_a_reason(client, h):
    p = _returning(client, h)
    f = _create(client, h["resident"], p["id"])["followup"]
    resp = client.delete(f"/api/follow-ups/{f['id']}", headers=h["resident"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "reason"
    assert db.session.get(FollowUp, f["id"]).is_active is True


def test_amend_keeps_the_old_version_with_who_and_why(client, h, users):
    p = _returning(client, h)
    f = _create(client, h["resident"], p["id"])["followup"]
    resp = client.put(f"/api/follow-ups/{f['id']}", json={"clinical_assessment": "Relapse of low mood; plan review.",
                                                          "amend_reason": "Added the afternoon review"},
                      headers=h["resident"])
    assert resp.status_code == 200, resp.get_json()
    now = resp.get_json()["data"]["followup"]
    assert now["version"] == 2 and now["clinical_assessment"] == "Relapse of low mood; plan review."
    assert now["change_reason"] == "Added the afternoon review" and now["amended_by"] == users["resident"].id
    versions = client.get(f"/api/follow-ups/{f['id']}/versions", headers=h["faculty"]).get_json()["data"]["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["fields"]["clinical_assessment"] == NOTE and versions[0]["author_id"] == users["resident"].id
    assert versions[0]["superseded_by"] == users["resident"].id
    assert versions[1]["current"] is True and versions[1]["change_reason"] == "Added the afternoon review"


def test_amend_refusals_change_nothing(client, h, users):
    p = _returning(client, h)
    f = _create(client, h["resident"], p["id"])["followup"]
    url = f"/api/follow-ups/{f['id']}"
    cases = [
        ({"clinical_assessment": "New text"}, 400, "amend_reason"),                         # no reason
        ({"clinical_assessment": "New text", "amend_reason": "ok"}, 400, "amend_reason"),   # too short
        ({"clinical_assessment": "", "amend_reason": "Corrected text"}, 400, "clinical_assessment"),
        ({"clinical_assessment": NOTE, "amend_reason": "Nothing really"}, 400, "clinical_assessment"),  # no change
        ({"visit_date": (today_ist() + dt.timedelta(days=2)).isoformat(), "amend_reason": "Date fix"}, 400,
         "visit_date"),
        ({"clinical_assessment": "New text", "amend_reason": "Corrected text", "version": 7}, 409, None),
    ]
    for body, status, path in cases:
        resp = client.put(url, json=body, headers=h["resident"])
        assert resp.status_code == status, (body, resp.get_json())
        if path:
            assert any(e["path"] == path for e in resp.get_json()["errors"]), resp.get_json()
    row = db.session.get(FollowUp, f["id"])
    assert row.version == 1 and row.clinical_assessment == NOTE
    assert db.session.execute(select(func.count(ClinicalVersion.id)).where(
        ClinicalVersion.record_type == "followup")).scalar_one() == 0


def test_another_resident_may_not_amend_or_withdraw_a_residents_note(client, h, users, make_user, bearer):
    from emrs.auth.models import RESIDENT
    p = _returning(client, h)
    f = _create(client, h["resident"], p["id"])["followup"]
    other = bearer(make_user(RESIDENT, name="Second Resident"))
    resp = client.put(f"/api/follow-ups/{f['id']}", json={"clinical_assessment": "Rewritten",
                                                          "amend_reason": "I saw the patient too"}, headers=other)
    assert resp.status_code == 403
    assert resp.get_json()["message"].startswith("You cannot change this follow-up note: it was written by someone else")
    resp = client.delete(f"/api/follow-ups/{f['id']}", json={"reason": "Duplicate note"}, headers=other)
    assert resp.status_code == 403
    row = db.session.get(FollowUp, f["id"])
    assert row.is_active and row.version == 1 and row.clinical_assessment == NOTE


def test_faculty_amends_a_residents_note_but_a_resident_not_faculty_and_admin_only_withdraws(client, h, users):
    p = _returning(client, h)
    by_resident = _create(client, h["resident"], p["id"])["followup"]
    by_faculty = _create(client, h["faculty"], p["id"])["followup"]
    body = {"clinical_assessment": "Reviewed by the consultant", "amend_reason": "Consultant's review"}
    assert client.put(f"/api/follow-ups/{by_resident['id']}", json=body, headers=h["faculty"]).status_code == 200
    assert client.put(f"/api/follow-ups/{by_faculty['id']}", json=body, headers=h["resident"]).status_code == 403
    assert client.put(f"/api/follow-ups/{by_faculty['id']}", json=body, headers=h["admin"]).status_code == 403
    resp = client.delete(f"/api/follow-ups/{by_faculty['id']}", json={"reason": "Duplicate of the other note"},
                         headers=h["admin"])
    assert resp.status_code == 200 and db.session.get(FollowUp, by_faculty["id"]).withdrawn_by == users["admin"].id


def test_no_audit_row_carries_the_assessment(client, h):
    p = _returning(client, h)
    f = _create(client, h["resident"], p["id"])["followup"]
    client.get(f"/api/follow-ups/{f['id']}", headers=h["faculty"])
    client.put(f"/api/follow-ups/{f['id']}", json={"clinical_assessment": "Secret-ish words 99",
                                                   "amend_reason": "Rewording the plan"}, headers=h["resident"])
    rows = db.session.execute(select(AuditLog).where(AuditLog.patient_id == p["id"])).scalars().all()
    actions = {r.action for r in rows}
    assert {"followup_create", "followup_view", "followup_update"} <= actions
    assert not any(NOTE in str(r.details) or "Secret-ish" in str(r.details) for r in rows)


def test_an_archived_patient_gets_no_follow_up(client, h):
    p = _returning(client, h)
    from emrs.patients.models import Patient
    row = db.session.get(Patient, p["id"])
    row.is_active = False
    db.session.commit()
    resp = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                       headers=h["resident"])
    assert resp.status_code == 404 and resp.get_json()["message"] == "Patient not found"


def test_an_amendment_cannot_date_the_note_before_the_first_visit(client, h):
    p = _returning(client, h, days_ago=5)
    f = _create(client, h["resident"], p["id"])["followup"]
    resp = client.put(f"/api/follow-ups/{f['id']}", json={
        "visit_date": (today_ist() - dt.timedelta(days=20)).isoformat(), "amend_reason": "Date was wrong"},
        headers=h["resident"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "visit_date"
    ok = client.put(f"/api/follow-ups/{f['id']}", json={
        "visit_date": (today_ist() - dt.timedelta(days=2)).isoformat(), "amend_reason": "Date was wrong"},
        headers=h["resident"])
    assert ok.status_code == 200
    moved = ok.get_json()["data"]["followup"]
    visit = db.session.get(PatientVisit, moved["visit_id"])
    assert visit.visit_date == today_ist() - dt.timedelta(days=2)  # the note follows its new day's visit
