"""Referrals between doctors: refer (one, bulk), seen/complete by the target or Admin,
revoke by the referrer or Admin while open, lists To me / By me, scope, audit, pages."""
from __future__ import annotations

import pytest

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.opd import referrals
from emrs.opd.models import PatientReferral

from emrs.timeutil import today_ist

from ..factories import patient_row


def _refer(client, h, patient_id, to, by="resident", **extra):
    return client.post(f"/api/patients/{patient_id}/refer", json={"to_doctor_id": to.id, **extra}, headers=h[by])


def test_refer_shape_audit_and_scope(client, h, users):
    p = patient_row("Harpreet Singh")
    resp = _refer(client, h, p.id, users["faculty"], reason="Second opinion on mood")
    assert resp.status_code == 201, resp.get_json()
    r = resp.get_json()["data"]["referral"]
    assert r["patient_id"] == p.id and r["from_doctor_id"] == users["resident"].id
    assert r["to_doctor_id"] == users["faculty"].id and r["status"] == "pending"
    assert r["reason"] == "Second opinion on mood" and r["patient_name"] == "Harpreet Singh"
    assert r["from_doctor_name"] == users["resident"].name and r["to_doctor_name"] == users["faculty"].name
    assert r["seen_at"] is None and r["completed_at"] is None and r["revoked_at"] is None and r["cr_no"] == p.cr_no
    row = db.session.query(AuditLog).filter_by(action="referral_create").one()
    assert row.patient_id == p.id and row.user_id == users["resident"].id
    assert "mood" not in str(row.details)  # the reason is free text: never in the audit row
    assert referrals.referred_to(users["faculty"].id) == {p.id}
    assert referrals.referred_to(users["resident"].id) == set()


def test_refer_refusals_change_nothing(client, h, users, make_user):
    from emrs.auth.models import RESIDENT
    p = patient_row()
    gone = make_user(RESIDENT, name="Former Resident")
    gone.is_active = False
    db.session.commit()
    archived = patient_row(is_active=False)
    cases = [
        (_refer(client, h, p.id, users["resident"]), 400, "yourself"),
        (_refer(client, h, p.id, users["pwo"]), 400, "Faculty member or a Resident"),
        (_refer(client, h, p.id, users["admin"]), 400, "Faculty member or a Resident"),
        (_refer(client, h, p.id, gone), 400, "deactivated"),
        (_refer(client, h, archived.id, users["faculty"]), 400, "archived"),
        (_refer(client, h, 999999, users["faculty"]), 404, "Patient not found"),
        (client.post(f"/api/patients/{p.id}/refer", json={"to_doctor_id": "abc"}, headers=h["resident"]), 400,
         "Validation failed"),
        (_refer(client, h, p.id, users["faculty"], reason="x" * 501), 400, "Validation failed"),
        (_refer(client, h, p.id, users["faculty"], by="pwo"), 403, "Access denied"),
    ]
    for resp, status, words in cases:
        assert resp.status_code == status, resp.get_json()
        assert words in resp.get_json()["message"]
    assert db.session.query(PatientReferral).count() == 0


def test_one_open_referral_per_patient_and_target(client, h, users):
    p = patient_row()
    assert _refer(client, h, p.id, users["faculty"]).status_code == 201
    resp = _refer(client, h, p.id, users["faculty"], by="admin")
    assert resp.status_code == 409 and "already has an open referral" in resp.get_json()["message"]
    ref = db.session.query(PatientReferral).one()
    assert client.post(f"/api/referrals/{ref.id}/complete", headers=h["faculty"]).status_code == 200
    assert _refer(client, h, p.id, users["faculty"]).status_code == 201  # closed: a new one may be sent


def test_bulk_refer_skips_already_referred(client, h, users):
    a, b, c = patient_row(), patient_row(), patient_row()
    _refer(client, h, b.id, users["faculty"])
    resp = client.post("/api/patients/refer/bulk", json={"patient_ids": [a.id, b.id, c.id, a.id],
                                                         "to_doctor_id": users["faculty"].id}, headers=h["resident"])
    assert resp.status_code == 201
    data = resp.get_json()["data"]
    assert [r["patient_id"] for r in data["referrals"]] == [a.id, c.id] and data["referred_count"] == 2
    assert [s["patient_id"] for s in data["skipped"]] == [b.id]
    before = db.session.query(PatientReferral).count()
    for body, status in [({"patient_ids": [], "to_doctor_id": users["faculty"].id}, 400),
                         ({"patient_ids": [a.id, 999999], "to_doctor_id": users["faculty"].id}, 404),
                         ({"patient_ids": ["x"], "to_doctor_id": users["faculty"].id}, 400),
                         ({"patient_ids": [a.id], "to_doctor_id": users["resident"].id}, 400)]:
        assert client.post("/api/patients/refer/bulk", json=body, headers=h["resident"]).status_code == status
    assert db.session.query(PatientReferral).count() == before


def test_seen_and_complete_only_by_target_or_admin(client, h, users):
    p = patient_row()
    ref_id = _refer(client, h, p.id, users["faculty"]).get_json()["data"]["referral"]["id"]
    # the referrer is not the target
    resp = client.post(f"/api/referrals/{ref_id}/seen", headers=h["resident"])
    assert resp.status_code == 403 and "Only the doctor the patient was referred to" in resp.get_json()["message"]
    assert client.post(f"/api/referrals/{ref_id}/complete", headers=h["resident"]).status_code == 403
    assert client.post(f"/api/referrals/{ref_id}/seen", headers=h["pwo"]).status_code == 403
    assert db.session.get(PatientReferral, ref_id).status == "pending"
    resp = client.post(f"/api/referrals/{ref_id}/seen", headers=h["faculty"])
    assert resp.status_code == 200 and resp.get_json()["data"]["referral"]["status"] == "seen"
    assert resp.get_json()["data"]["referral"]["seen_at"]
    resp = client.post(f"/api/referrals/{ref_id}/complete", headers=h["faculty"])
    assert resp.status_code == 200 and resp.get_json()["data"]["referral"]["status"] == "completed"
    resp = client.post(f"/api/referrals/{ref_id}/revoke", headers=h["resident"])
    assert resp.status_code == 409 and "already completed" in resp.get_json()["message"]
    actions = [(a.action, a.patient_id) for a in db.session.query(AuditLog).filter(
        AuditLog.action.like("referral_%")).order_by(AuditLog.id)]
    assert actions == [("referral_create", p.id), ("referral_seen", p.id), ("referral_completed", p.id)]
    assert referrals.referred_to(users["faculty"].id) == set()
    # the Admin may close another's referral
    ref2 = _refer(client, h, p.id, users["faculty"]).get_json()["data"]["referral"]["id"]
    assert client.post(f"/api/referrals/{ref2}/complete", headers=h["admin"]).status_code == 200


def test_revoke_only_by_referrer_or_admin_while_open(client, h, users):
    p = patient_row()
    ref_id = _refer(client, h, p.id, users["faculty"]).get_json()["data"]["referral"]["id"]
    resp = client.post(f"/api/referrals/{ref_id}/revoke", headers=h["faculty"])
    assert resp.status_code == 403 and "Only the doctor who referred" in resp.get_json()["message"]
    assert db.session.get(PatientReferral, ref_id).status == "pending"
    resp = client.post(f"/api/referrals/{ref_id}/revoke", headers=h["resident"])
    assert resp.status_code == 200
    row = db.session.get(PatientReferral, ref_id)
    assert row.status == "revoked" and row.revoked_by == users["resident"].id and row.revoked_at
    assert client.post(f"/api/referrals/{ref_id}/seen", headers=h["faculty"]).status_code == 409
    assert client.post("/api/referrals/999999/revoke", headers=h["admin"]).status_code == 404


def test_list_to_me_by_me_and_status(client, h, users):
    a, b = patient_row("Aman Deep"), patient_row("Balbir Kaur")
    _refer(client, h, a.id, users["faculty"])
    r2 = _refer(client, h, b.id, users["resident"], by="faculty").get_json()["data"]["referral"]["id"]
    client.post(f"/api/referrals/{r2}/complete", headers=h["resident"])
    to_me = client.get("/api/referrals", headers=h["faculty"]).get_json()["data"]
    assert to_me["direction"] == "to_me" and [r["patient_name"] for r in to_me["referrals"]] == ["Aman Deep"]
    by_me = client.get("/api/referrals?direction=by_me", headers=h["faculty"]).get_json()["data"]
    assert [r["patient_name"] for r in by_me["referrals"]] == ["Balbir Kaur"]
    assert client.get("/api/referrals?direction=by_me&status=open", headers=h["faculty"]).get_json()[
        "data"]["referrals"] == []
    assert client.get("/api/referrals?direction=all", headers=h["faculty"]).status_code == 400
    assert client.get("/api/referrals?status=lost", headers=h["faculty"]).status_code == 400
    everything = client.get("/api/referrals?status=open", headers=h["pwo"]).get_json()["data"]
    assert everything["direction"] == "all" and everything["pagination"]["total"] == 1


# ------------------------------------------------------------------ pages

def test_refer_page_from_patient_page(role_client, users):
    p = patient_row("Jaspreet Gill")
    c = role_client("resident")
    assert f'href="/patients/{p.id}/refer"' in c.get(f"/patients/{p.id}").get_data(as_text=True)
    assert f'/patients/{p.id}/refer' not in role_client("pwo").get(f"/patients/{p.id}").get_data(as_text=True)
    html = c.get(f"/patients/{p.id}/refer").get_data(as_text=True)
    assert "Refer to another doctor" in html and users["faculty"].name in html
    assert f'value="{users["resident"].id}"' not in html  # not to oneself
    assert db.session.query(AuditLog).filter_by(action="referral_form_open", patient_id=p.id).count() == 1
    resp = c.post(f"/patients/{p.id}/refer", data={"to_doctor_id": "", "reason": ""})
    assert resp.status_code == 422 and "to_doctor_id must be a doctor" in resp.get_data(as_text=True)
    resp = c.post(f"/patients/{p.id}/refer", data={"to_doctor_id": str(users["faculty"].id), "reason": "Review"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/patients/{p.id}")
    assert referrals.referred_to(users["faculty"].id) == {p.id}
    resp = c.post(f"/patients/{p.id}/refer", data={"to_doctor_id": str(users["faculty"].id), "reason": ""})
    assert resp.status_code == 422 and "already has an open referral" in resp.get_data(as_text=True)
    assert role_client("pwo").get(f"/patients/{p.id}/refer").status_code == 403


def test_referrals_page_tabs_and_actions(role_client, users, client, h):
    p = patient_row("Kuldeep Sandhu")
    ref_id = _refer(client, h, p.id, users["faculty"], reason="Psychotherapy").get_json()["data"]["referral"]["id"]
    fac = role_client("faculty")
    html = fac.get("/referrals").get_data(as_text=True)
    assert "Kuldeep Sandhu" in html and "Psychotherapy" in html and "Mark seen</button>" in html and "Revoke</button>" not in html
    res = role_client("resident")
    html = res.get("/referrals?direction=by_me").get_data(as_text=True)
    assert "Kuldeep Sandhu" in html and "Revoke</button>" in html and "Mark seen</button>" not in html
    assert "Kuldeep Sandhu" not in res.get("/referrals").get_data(as_text=True)  # nothing to the resident
    # the resident may not mark seen: refused, nothing changed
    resp = res.post(f"/referrals/{ref_id}", data={"action": "seen"}, follow_redirects=True)
    assert "Only the doctor the patient was referred to" in resp.get_data(as_text=True)
    assert db.session.get(PatientReferral, ref_id).status == "pending"
    resp = fac.post(f"/referrals/{ref_id}", data={"action": "seen", "direction": "to_me"})
    assert resp.status_code == 303 and "direction=to_me" in resp.headers["Location"]
    assert db.session.get(PatientReferral, ref_id).status == "seen"
    resp = fac.post(f"/referrals/{ref_id}", data={"action": "complete"}, follow_redirects=True)
    assert "Marked completed." in resp.get_data(as_text=True)
    resp = fac.post(f"/referrals/{ref_id}", data={"action": "explode"}, follow_redirects=True)
    assert "Say what to do" in resp.get_data(as_text=True)
    pwo_html = role_client("pwo").get("/referrals").get_data(as_text=True)
    assert "Kuldeep Sandhu" in pwo_html and ">All<" in pwo_html and "Mark seen</button>" not in pwo_html



def test_the_same_referral_sent_twice_at_once_is_one_row(app, users, monkeypatch):
    """Two requests that both pass the look-up: the partial unique index keeps one open referral."""
    from emrs.errors import Conflict
    p = patient_row()
    with app.test_request_context():
        referrals.refer(p.id, users["faculty"].id, None, users["resident"])
        monkeypatch.setattr(referrals, "open_referral", lambda *a: None)
        with pytest.raises(Conflict, match="already has an open referral"):
            referrals.refer(p.id, users["faculty"].id, None, users["admin"])
        db.session.rollback()
    assert db.session.query(PatientReferral).filter_by(patient_id=p.id).count() == 1


def test_a_junior_resident_sees_a_patient_referred_to_them_in_todays_list(app, ctx, users):
    """The referral puts the patient in the Junior Resident's scope: another doctor's patient in
    another room shows in their Today's list once referred, and not before."""
    from emrs.opd import queue, referrals, rooms
    from tests.factories import patient_row
    admin, faculty, resident = users["admin"], users["faculty"], users["resident"]
    resident.grade = "JR"
    a = rooms.create_room({"room_number": "JR-A"}, admin)
    b = rooms.create_room({"room_number": "JR-B"}, admin)
    queue.sit_and_route(faculty, a)
    queue.sit_and_route(resident, b)
    patient = patient_row("Referred Today Patient")
    queue.queue(patient, a, admin)
    ids = lambda: {r["patient"].id for r in queue.todays_list(resident)[0]}  # noqa: E731
    assert patient.id not in ids()
    referrals.refer(patient.id, resident.id, None, faculty)
    assert patient.id in ids()


def _referral_statements(app, page_client):
    """Statements that read patient_referrals while Today's list renders."""
    from sqlalchemy import event
    sent = []

    def note(conn, cursor, statement, *args):
        if "patient_referrals" in statement:
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        html = page_client.get("/opd/today/list").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return html, sent


def _badge(html, name):
    import re
    row = next(r for r in html.split("<tr") if name in r)
    m = re.search(r'class="badge badge-referral[^"]*"[^>]*>([^<]+)<', row)
    return m.group(1) if m else None


def test_todays_row_shows_the_referral_state_in_one_query(app, client, h, users, role_client):
    from emrs.opd import queue
    from emrs.opd.models import Room
    room = Room(room_number="55", number_key="55", doctor_capacity=1)
    db.session.add(room)
    db.session.commit()
    ids = {}
    for name in ("Referral Pending", "Referral Seen", "Referral Done", "Referral Revoked", "No Referral"):
        p = patient_row(name)
        queue.queue(p, room, users["pwo"])
        ids[name] = p.id
    refs = {}
    for name in ("Referral Pending", "Referral Seen", "Referral Done", "Referral Revoked"):
        resp = _refer(client, h, ids[name], users["faculty"], reason="Please see")
        assert resp.status_code == 201
        refs[name] = resp.get_json()["data"]["referral"]["id"]
    assert client.post(f"/api/referrals/{refs['Referral Seen']}/seen", headers=h["faculty"]).status_code == 200
    assert client.post(f"/api/referrals/{refs['Referral Done']}/complete", headers=h["faculty"]).status_code == 200
    assert client.post(f"/api/referrals/{refs['Referral Revoked']}/revoke", headers=h["resident"]).status_code == 200
    admin = role_client("admin")
    html, sent = _referral_statements(app, admin)
    assert _badge(html, "Referral Pending") == "Referral pending"
    assert _badge(html, "Referral Seen") == "Referral seen"
    assert _badge(html, "Referral Done") == "Referral completed"
    assert _badge(html, "Referral Revoked") == "Referral revoked"
    assert _badge(html, "No Referral") is None
    assert len(sent) == 1, sent  # one query for every row, not one per row
    # A new open referral is shown before the one completed today.
    assert _refer(client, h, ids["Referral Done"], users["faculty"]).status_code == 201
    html, sent = _referral_statements(app, admin)
    assert _badge(html, "Referral Done") == "Referral pending" and len(sent) == 1
    # The API row carries the state too.
    rows = client.get(f"/api/patients?date={today_ist().isoformat()}", headers=h["admin"]).get_json()["data"]["patients"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["Referral Seen"]["referral_status"] == "seen"
    assert by_name["No Referral"]["referral_status"] is None
