"""The OPD queue's API: registration and re-queue through POST /api/patients, today's list
(GET /api/patients?date=), change room, transfer, add to my list, complete/reopen, by room."""
from __future__ import annotations

from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.patients.models import Patient, PatientVisit
from emrs.timeutil import today_ist

from ..factories import patient_row
from .helpers import room, seat

TODAY = lambda: today_ist().isoformat()  # noqa: E731


def _visit(pid):
    return db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == pid)
                              .order_by(PatientVisit.id.desc())).scalars().first()


def test_registration_with_a_room_queues_and_a_bad_room_saves_nothing(client, h, users):
    r = room("21")
    seat(users["resident"], r)
    resp = client.post("/api/patients", json={"name": "Lakhvir Kaur", "sex": "F", "age": 27, "assigned_room": "21"},
                       headers=h["pwo"])
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()["data"]
    assert data["patient"]["assigned_room"] == "21" and data["patient"]["assigned_doctor_id"] == users["resident"].id
    assert (data["visit"]["token_no"], data["visit"]["room_no"], data["visit"]["visit_status"]) == (1, "21", "scheduled")
    assert data["visit"]["assigned_doctor_name"] == users["resident"].name
    room("22", active=False)
    before = db.session.execute(select(func.count(Patient.id))).scalar()
    for value, message in (("22", "Room 22 is not in use"), ("404", "There is no room 404")):
        resp = client.post("/api/patients", json={"name": "Manpreet Gill", "sex": "M", "age": 30,
                                                  "assigned_room": value}, headers=h["pwo"])
        body = resp.get_json()
        assert resp.status_code == 400 and body["message"] == message and body["errors"][0]["path"] == "assigned_room"
    assert db.session.execute(select(func.count(Patient.id))).scalar() == before


def test_existing_patient_requeue_writes_todays_visit(client, h, users):
    r1, r2 = room("23"), room("24")
    p = patient_row("Navjot Sidhu", assigned_room="23", assigned_room_id=r1.id)
    body = {"patient_id": p.id, "name": p.name, "assigned_room": "24"}
    resp = client.post("/api/patients", json=body, headers=h["pwo"])
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()["data"]
    assert {"patient", "visit_count", "total_visits", "next_visit_number"} <= set(data)
    assert (data["visit_count"], data["total_visits"], data["next_visit_number"]) == (1, 1, 2)
    v = _visit(p.id)
    assert (v.visit_date, v.room_no, v.token_no) == (today_ist(), "24", 1)
    # The list of today shows the re-queued patient (the original's defect).
    listed = client.get(f"/api/patients?date={TODAY()}", headers=h["admin"]).get_json()["data"]["patients"]
    assert [x["id"] for x in listed] == [p.id] and listed[0]["token_no"] == 1 and listed[0]["queue_status"] == "waiting"
    # A doctor without a room sending no room: the patient's last room.
    resp = client.post("/api/patients", json={"patient_id": p.id}, headers=h["resident"])
    assert resp.status_code == 201 and _visit(p.id).room_no == "24"
    # A seated doctor bringing a patient in: their own room.
    seat(users["faculty"], r1)
    resp = client.post("/api/patients", json={"patient_id": p.id, "name": p.name}, headers=h["faculty"])
    assert resp.status_code == 201 and _visit(p.id).room_no == "23"
    assert _visit(p.id).assigned_doctor_id == users["faculty"].id
    resp = client.post("/api/patients", json={"patient_id": p.id, "assigned_room": "nope"}, headers=h["pwo"])
    assert resp.status_code == 400 and resp.get_json()["message"] == "There is no room nope"


def test_todays_list_is_scoped_and_filtered(client, h, users, make_user):
    r1, r2 = room("25"), room("26")
    seat(users["resident"], r1)
    a, b = patient_row("Ominder Pal"), patient_row("Pritam Kaur")
    client.post("/api/patients", json={"patient_id": a.id, "assigned_room": "25"}, headers=h["pwo"])
    client.post("/api/patients", json={"patient_id": b.id, "assigned_room": "26"}, headers=h["pwo"])

    def names(role, query=""):
        resp = client.get(f"/api/patients?date={TODAY()}{query}", headers=h[role])
        assert resp.status_code == 200, resp.get_json()
        return [x["name"] for x in resp.get_json()["data"]["patients"]]

    assert names("resident") == ["Ominder Pal"]                       # a junior resident: own and room
    assert names("resident", "&scope=all") == ["Ominder Pal"]
    assert names("faculty") == [] and names("faculty", "&scope=all") == ["Ominder Pal", "Pritam Kaur"]
    assert names("admin") == ["Ominder Pal", "Pritam Kaur"] and names("pwo", "&assigned_room=26") == ["Pritam Kaur"]
    resp = client.get("/api/patients?date=2999-01-01", headers=h["admin"])
    assert resp.status_code == 400
    resp = client.get("/api/patients?date=nope", headers=h["admin"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "date"
    # The plain list is unchanged for existing callers.
    plain = client.get("/api/patients", headers=h["admin"]).get_json()["data"]
    assert "pagination" in plain and "scope" not in plain
    by_room = client.get("/api/patients/by-room/26", headers=h["admin"]).get_json()["data"]
    assert by_room["room_number"] == "26" and by_room["count"] == 1 and by_room["patients"][0]["name"] == "Pritam Kaur"
    assert client.get("/api/patients/by-room/26", headers=h["resident"]).status_code == 403
    assert client.get("/api/patients/by-room/77", headers=h["admin"]).status_code == 404


def test_routing_actions_and_their_refusals(client, h, users, bearer, make_user):
    shared, other = room("27", capacity=2), room("28")
    res, fac = users["resident"], users["faculty"]
    seat(res, shared)
    p = patient_row("Rajinder Kaur")
    client.post("/api/patients", json={"patient_id": p.id, "assigned_room": "27"}, headers=h["pwo"])
    assert _visit(p.id).assigned_doctor_id == res.id
    # Transfer: the target must sit in the room.
    resp = client.post(f"/api/patients/{p.id}/transfer", json={"target_doctor_id": fac.id}, headers=h["resident"])
    assert resp.status_code == 400 and "is not sitting in room 27 today" in resp.get_json()["message"]
    seat(fac, shared)
    resp = client.post(f"/api/patients/{p.id}/transfer", json={"target_doctor_id": res.id}, headers=h["faculty"])
    assert resp.status_code == 403 and resp.get_json()["message"].startswith("Only the patient's assigned doctor")
    resp = client.post(f"/api/patients/{p.id}/transfer", json={"target_doctor_id": fac.id}, headers=h["resident"])
    assert resp.status_code == 200 and resp.get_json()["data"]["visit"]["assigned_doctor_id"] == fac.id
    # Change room: the assigned doctor may (a new token there, routed by the rule).
    resp = client.post(f"/api/patients/{p.id}/change-room", json={"new_room": "28"}, headers=h["pwo"])
    assert resp.status_code == 403  # the counter does not move patients through the API
    resp = client.post(f"/api/patients/{p.id}/change-room", json={"new_room": "28"}, headers=h["faculty"])
    data = resp.get_json()["data"]
    assert resp.status_code == 200 and (data["old_room"], data["new_room"], data["token_no"]) == ("27", "28", 1)
    assert data["new_doctor_id"] is None and data["room_changed"] is True
    assert data["new_doctor_name"] is None and data["new_doctor_role"] is None  # nobody sits in 28
    resp = client.post(f"/api/patients/{p.id}/change-room", json={}, headers=h["faculty"])
    assert resp.status_code == 400 and resp.get_json()["message"] == "Choose a room"
    # Add to my list: an unassigned patient; Admin names the doctor.
    resp = client.post(f"/api/patients/{p.id}/add-to-my-list", json={}, headers=h["admin"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "doctor_id"
    resp = client.post(f"/api/patients/{p.id}/add-to-my-list", headers=h["resident"])
    assert resp.status_code == 200 and resp.get_json()["data"]["visit"]["assigned_doctor_id"] == res.id
    resp = client.post(f"/api/patients/{p.id}/add-to-my-list", json={}, headers=h["faculty"])
    assert resp.status_code == 409
    # Another doctor's patient: refused with the reason, nothing changed.
    stranger = bearer(make_user("Resident", name="Dr Stranger"))
    resp = client.post(f"/api/patients/{p.id}/change-room", json={"new_room": "27"}, headers=stranger)
    assert resp.status_code == 403
    assert "only they, a doctor of room 28 or an administrator can move them" in resp.get_json()["message"]
    assert _visit(p.id).room_no == "28"
    # Complete and reopen (undo).
    assert client.post(f"/api/patients/{p.id}/visits/complete", json={}, headers=h["resident"]).status_code == 200
    resp = client.post(f"/api/patients/{p.id}/change-room", json={"new_room": "27"}, headers=h["resident"])
    assert resp.status_code == 409
    resp = client.post(f"/api/patients/{p.id}/visits/reopen", headers=h["resident"])
    assert resp.status_code == 200 and resp.get_json()["data"]["visit"]["visit_status"] == "scheduled"
    resp = client.post(f"/api/patients/{p.id}/visits/reopen", headers=h["resident"])
    assert resp.status_code == 404
    q = patient_row("Not Queued")
    resp = client.post(f"/api/patients/{q.id}/transfer", json={"target_doctor_id": fac.id}, headers=h["resident"])
    assert resp.status_code == 404 and resp.get_json()["message"] == "This patient is not in today's queue"


def test_assign_names_a_real_room_with_a_token_and_refuses_an_unknown_one(client, h, users, role_client):
    r = room("31")
    first, second = patient_row("Assign One"), patient_row("Assign Two")
    for p, token in ((first, 1), (second, 2)):
        resp = client.post("/api/patients/assign", headers=h["pwo"], json={
            "patient_id": p.id, "assigned_doctor_id": users["faculty"].id, "room_no": " 31 "})
        assert resp.status_code == 201, resp.get_json()
        a = resp.get_json()["data"]["assignment"]
        assert (a["room_no"], a["room_id"], a["token_no"], a["assigned_doctor_id"]) == ("31", r.id, token,
                                                                                      users["faculty"].id)
    assert db.session.get(Patient, first.id).assigned_room_id == r.id
    # A typo once rooms exist: refused, nothing changed.
    third = patient_row("Assign Three")
    resp = client.post("/api/patients/assign", headers=h["pwo"], json={
        "patient_id": third.id, "assigned_doctor_id": users["faculty"].id, "room_no": "R-31"})
    body = resp.get_json()
    assert resp.status_code == 400 and body["errors"][0]["path"] == "room_no" and body["errors"][0]["msg"] == "No such room"
    assert _visit(third.id) is None
    # The patient page's Assign goes through the same rule.
    resp = role_client("pwo").post(f"/patients/{third.id}/assign", data={
        "assigned_doctor_id": str(users["faculty"].id), "room_no": "31"})
    assert resp.status_code == 302
    v = _visit(third.id)
    assert (v.room_id, v.token_no) == (r.id, 3)
    # The doctor of room 31 sees all three in the room's list, by token.
    listed = client.get(f"/api/patients?date={TODAY()}&assigned_room=31", headers=h["faculty"]).get_json()
    assert [x["token_no"] for x in listed["data"]["patients"]] == [1, 2, 3]


def test_change_room_names_the_new_doctors_role(client, h, users):
    from .helpers import room, seat
    room("61")
    r62 = room("62")
    seat(users["faculty"], r62)
    p = patient_row("Kuldip Role")
    assert client.post("/api/patients", json={"patient_id": p.id, "assigned_room": "61"},
                       headers=h["pwo"]).status_code in (200, 201)
    resp = client.post(f"/api/patients/{p.id}/change-room", json={"new_room": "62"}, headers=h["admin"])
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()["data"]
    assert (data["new_doctor_id"], data["new_doctor_name"], data["new_doctor_role"]) == (
        users["faculty"].id, users["faculty"].name, "Faculty")
    assert data["patient"]["id"] == p.id and data["visit"]["room_no"] == "62"  # the existing keys stay


def test_a_visit_reads_prescription_printed_once_its_pdf_was_handed_out(client, h, role_client):
    """Today's statuses: "prescription written" until the PDF is fetched (page or API door),
    then "prescription printed"; a refused print (no medicine) records nothing."""
    from emrs.prescriptions.service import PRINT_ACTION
    from ..factories import prescribed
    room("25")
    made = prescribed(client, h)
    pid, rx_id = made["patient"]["id"], made["prescription"]["id"]
    resp = client.post("/api/patients", json={"patient_id": pid, "assigned_room": "25"}, headers=h["pwo"])
    assert resp.status_code == 201, resp.get_json()  # in today's queue

    def status():
        rows = client.get(f"/api/patients?date={today_ist().isoformat()}", headers=h["admin"]).get_json()
        [mine] = [x for x in rows["data"]["patients"] if x["id"] == pid]
        return mine["queue_status"]

    assert status() == "prescription written"
    assert client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"]).status_code == 200
    assert status() == "prescription printed"
    page = role_client("admin").get("/patients/today?room=all").get_data(as_text=True)
    assert "prescription printed" in page[page.index(made["patient"]["name"]):]

    other = prescribed(client, h, patient={"name": "Second Printtest"})
    resp = client.put(f"/api/clinical-proformas/{other['proforma']['id']}", json={"prescriptions": []},
                      headers=h["resident"])
    assert resp.status_code == 200, resp.get_json()
    assert role_client("resident").get(f"/prescriptions/{other['prescription']['id']}/pdf").status_code == 302
    prints = db.session.execute(select(AuditLog.entity_id).where(AuditLog.action == PRINT_ACTION)).scalars().all()
    assert prints == [str(rx_id)]
