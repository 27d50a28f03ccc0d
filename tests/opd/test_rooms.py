"""Rooms: management (Admin, PWO) on the page and the API, history kept on rename and never
erased by delete, a doctor's room for the day over the API, the Admin moving a doctor."""
from __future__ import annotations

import datetime as dt

import pytest

from emrs.audit.models import AuditLog
from emrs.auth.models import FACULTY, RESIDENT
from emrs.extensions import db
from emrs.opd import rooms
from emrs.opd.models import DoctorRoom, Room
from emrs.patients.models import PatientVisit
from emrs.timeutil import today_ist

from ..factories import patient_row


def _room(number="7", capacity=1, active=True, description=None) -> Room:
    row = Room(room_number=number, number_key=rooms.number_key(number), doctor_capacity=capacity, is_active=active,
               description=description)
    db.session.add(row)
    db.session.commit()
    return row


def _visit(patient, room, day=None) -> PatientVisit:
    row = PatientVisit(patient_id=patient.id, visit_date=day or today_ist(), visit_type="first_visit",
                       visit_status="scheduled", room_id=room.id, room_no=room.room_number)
    db.session.add(row)
    db.session.commit()
    return row


def _seat(user, room, day=None):
    db.session.add(DoctorRoom(user_id=user.id, room_id=room.id, day=day or today_ist()))
    db.session.commit()


# ------------------------------------------------------------------ API: management

def test_create_room_shape_and_audit(client, h, users):
    resp = client.post("/api/rooms", json={"room_number": " 12B ", "description": "Ground floor",
                                           "doctor_capacity": 2}, headers=h["pwo"])
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["success"] is True and body["message"] == "Room created successfully"
    room = body["data"]
    assert room["room_number"] == "12B" and room["description"] == "Ground floor"
    assert room["doctor_capacity"] == 2 and room["is_active"] is True
    assert room["assigned_doctors"] == [] and room["assigned_doctor"] is None
    assert {"id", "created_at", "updated_at"} <= set(room) and "number_key" not in room
    row = db.session.query(AuditLog).filter_by(action="room_create", entity_id=str(room["id"])).one()
    assert row.user_id == users["pwo"].id


@pytest.mark.parametrize("number", ["12b", " 12B", "12B  "])
def test_duplicate_number_is_409_case_and_space_insensitive(client, h, number):
    _room("12B")
    resp = client.post("/api/rooms", json={"room_number": number}, headers=h["admin"])
    assert resp.status_code == 409
    assert resp.get_json()["message"].startswith("Room number already exists")
    assert db.session.query(Room).count() == 1


@pytest.mark.parametrize("body,field", [
    ({}, "room_number"), ({"room_number": "   "}, "room_number"), ({"room_number": "x" * 21}, "room_number"),
    ({"room_number": "9", "doctor_capacity": 6}, "doctor_capacity"),
    ({"room_number": "9", "doctor_capacity": 0}, "doctor_capacity"),
    ({"room_number": "9", "doctor_capacity": "two"}, "doctor_capacity"),
    ({"room_number": "9", "is_active": "maybe"}, "is_active"),
])
def test_bad_room_input_is_400_and_changes_nothing(client, h, body, field):
    resp = client.post("/api/rooms", json=body, headers=h["admin"])
    assert resp.status_code == 400
    assert field in {e["path"] for e in resp.get_json()["errors"]}
    assert db.session.query(Room).count() == 0


def test_only_admin_and_pwo_manage_rooms(client, h):
    room = _room("3")
    for role in ("faculty", "resident"):
        assert client.post("/api/rooms", json={"room_number": "4"}, headers=h[role]).status_code == 403
        assert client.put(f"/api/rooms/{room.id}", json={"description": "x"}, headers=h[role]).status_code == 403
        assert client.delete(f"/api/rooms/{room.id}", headers=h[role]).status_code == 403
        assert client.get(f"/api/rooms/{room.id}", headers=h[role]).status_code == 403
    assert db.session.query(Room).count() == 1


def test_list_rooms_for_every_role_with_todays_doctors(client, h, users):
    shared = _room("2", capacity=2)
    _room("10")
    _room("Old", active=False)
    _seat(users["faculty"], shared)
    _seat(users["resident"], shared, day=today_ist() - dt.timedelta(days=1))  # yesterday means nothing today
    resp = client.get("/api/rooms?limit=10", headers=h["resident"])
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert [r["room_number"] for r in data["rooms"]] == ["2", "10", "Old"]
    assert data["pagination"] == {"page": 1, "limit": 10, "total": 3, "pages": 1}
    two = data["rooms"][0]
    assert [(d["id"], d["name"], d["role"]) for d in two["assigned_doctors"]] == [
        (users["faculty"].id, users["faculty"].name, FACULTY)]
    assert two["assigned_doctor"] == users["faculty"].name and two["assigned_doctors"][0]["assignment_time"]
    active = client.get("/api/rooms?is_active=true&search=1", headers=h["pwo"]).get_json()["data"]["rooms"]
    assert [r["room_number"] for r in active] == ["10"]
    assert client.get("/api/rooms?is_active=perhaps", headers=h["pwo"]).status_code == 400


def test_rename_keeps_history(client, h, users):
    room = _room("5")
    patient = patient_row()
    visit = _visit(patient, room, today_ist() - dt.timedelta(days=3))
    resp = client.put(f"/api/rooms/{room.id}", json={"room_number": "5-East"}, headers=h["admin"])
    assert resp.status_code == 200 and resp.get_json()["data"]["room_number"] == "5-East"
    db.session.refresh(visit)
    assert visit.room_id == room.id and visit.room_no == "5"  # the number printed that day
    assert rooms.room_by_number("5-east").id == room.id and rooms.room_by_number("5") is None


def test_delete_room_without_history(client, h):
    room_id = _room("Spare").id
    resp = client.delete(f"/api/rooms/{room_id}", headers=h["pwo"])
    assert resp.status_code == 200 and resp.get_json()["data"]["room_number"] == "Spare"
    assert db.session.get(Room, room_id) is None
    assert db.session.query(AuditLog).filter_by(action="room_delete", entity_id=str(room_id)).count() == 1


@pytest.mark.parametrize("history", ["visit", "patient", "doctor_day"])
@pytest.mark.parametrize("force", ["", "?force=true"])
def test_delete_room_with_history_is_refused_even_forced(client, h, users, history, force):
    room = _room("8")
    patient = patient_row()
    if history == "visit":
        visit = _visit(patient, room, today_ist() - dt.timedelta(days=30))
    elif history == "patient":
        patient.assigned_room_id = room.id
        db.session.commit()
    else:
        _seat(users["resident"], room, today_ist() - dt.timedelta(days=2))
    resp = client.delete(f"/api/rooms/{room.id}{force}", headers=h["admin"])
    assert resp.status_code == 409
    body = resp.get_json()
    assert "deactivate it instead" in body["message"] and body["code"] == "ROOM_HAS_HISTORY"
    assert db.session.get(Room, room.id) is not None
    if history == "visit":
        db.session.refresh(visit)
        assert visit.room_no == "8" and visit.room_id == room.id
    # deactivating is the way
    resp = client.put(f"/api/rooms/{room.id}", json={"is_active": False}, headers=h["admin"])
    assert resp.status_code == 200 and resp.get_json()["data"]["is_active"] is False


def test_capacity_cannot_drop_below_todays_doctors_nor_deactivate_an_occupied_room(client, h, users):
    room = _room("11", capacity=2)
    _seat(users["faculty"], room)
    _seat(users["resident"], room)
    resp = client.put(f"/api/rooms/{room.id}", json={"doctor_capacity": 1}, headers=h["admin"])
    assert resp.status_code == 400 and "2 doctors sit in room 11 today" in resp.get_json()["message"]
    resp = client.put(f"/api/rooms/{room.id}", json={"is_active": False}, headers=h["admin"])
    assert resp.status_code == 409
    db.session.refresh(room)
    assert room.doctor_capacity == 2 and room.is_active


# ------------------------------------------------------------------ API: a doctor's room today

def test_select_my_room_clear(client, h, users):
    _room("4", capacity=1)
    assert client.get("/api/users/rooms/my-room", headers=h["faculty"]).get_json()["data"] == {
        "current_room": None, "room_assignment_time": None}
    resp = client.post("/api/users/rooms/select", json={"room_number": "4", "assignment_time": "2001-01-01T00:00:00Z"},
                       headers=h["faculty"])
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()["data"]
    assert data["room"] == "4" and not data["assignment_time"].startswith("2001")  # the server decides the time
    assert data["patients_assigned"] == 0 and data["patients"] == []
    seat = db.session.query(DoctorRoom).filter_by(user_id=users["faculty"].id).one()
    assert seat.day == today_ist()
    mine = client.get("/api/users/rooms/my-room", headers=h["faculty"]).get_json()["data"]
    assert mine["current_room"] == "4" and mine["room_assignment_time"]
    # full: the resident is refused with 409 and nothing changes
    resp = client.post("/api/users/rooms/select", json={"room_number": "4"}, headers=h["resident"])
    assert resp.status_code == 409 and "full" in resp.get_json()["message"]
    assert db.session.query(DoctorRoom).filter_by(user_id=users["resident"].id).count() == 0
    avail = client.get("/api/users/rooms/available", headers=h["pwo"]).get_json()["data"]
    assert avail["rooms"] == ["4"] and avail["available_rooms"] == []
    occ = avail["occupied_rooms"]["4"]
    assert occ["capacity"] == 1 and occ["slots_remaining"] == 0 and occ["doctor_id"] == users["faculty"].id
    assert occ["doctors"] == [{"doctor_id": users["faculty"].id, "doctor_name": users["faculty"].name}]
    assert avail["distribution_today"] == {"4": 0}
    assert avail["distribution"] == {"4": 0}
    resp = client.post("/api/users/rooms/clear", headers=h["faculty"])
    assert resp.status_code == 200 and resp.get_json()["data"]["cleared"] is True
    assert client.get("/api/users/rooms/my-room", headers=h["faculty"]).get_json()["data"]["current_room"] is None


def test_select_refusals(client, h):
    _room("Closed", active=False)
    assert client.post("/api/users/rooms/select", json={"room_number": "Nowhere"}, headers=h["resident"]).status_code == 404
    assert client.post("/api/users/rooms/select", json={"room_number": "Closed"}, headers=h["resident"]).status_code == 400
    assert client.post("/api/users/rooms/select", json={}, headers=h["resident"]).status_code == 400
    # welfare officers and Admin do not sit in rooms
    assert client.post("/api/users/rooms/select", json={"room_number": "Closed"}, headers=h["pwo"]).status_code == 403
    assert client.post("/api/users/rooms/select", json={"room_number": "Closed"}, headers=h["admin"]).status_code == 403


def test_admin_changes_a_doctors_room(client, h, users):
    _room("1", capacity=1)
    _room("2", capacity=1)
    client.post("/api/users/rooms/select", json={"room_number": "1"}, headers=h["resident"])
    resp = client.put(f"/api/users/{users['resident'].id}/change-room", json={"new_room": "2"}, headers=h["admin"])
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()["data"]
    assert data["doctor"] == {"id": users["resident"].id, "name": users["resident"].name, "role": RESIDENT}
    assert data["old_room"] == "1" and data["new_room"] == "2" and data["assignment_time"]
    seat = db.session.query(DoctorRoom).filter_by(user_id=users["resident"].id).one()
    assert seat.assigned_by == users["admin"].id
    assert db.session.query(AuditLog).filter_by(action="room_move").count() == 1
    # a full room refuses, a non-doctor cannot be seated, other roles may not move anyone
    client.post("/api/users/rooms/select", json={"room_number": "1"}, headers=h["faculty"])
    assert client.put(f"/api/users/{users['resident'].id}/change-room", json={"new_room": "1"},
                      headers=h["admin"]).status_code == 409
    assert client.put(f"/api/users/{users['pwo'].id}/change-room", json={"new_room": "2"},
                      headers=h["admin"]).status_code == 400
    assert client.put(f"/api/users/{users['resident'].id}/change-room", json={"new_room": "2"},
                      headers=h["faculty"]).status_code == 403


# ------------------------------------------------------------------ pages

def test_rooms_page_lists_capacity_and_doctors_today(role_client, users):
    shared = _room("6", capacity=3, description="Near the lifts")
    _room("9")
    _seat(users["faculty"], shared)
    c = role_client("pwo")
    html = c.get("/rooms").get_data(as_text=True)
    assert "3 (shared)" in html and 'data-seated="1">1/3<' in html and "Near the lifts" in html
    assert "id=\"doctors-today\"" not in html  # moving doctors is the Admin's
    assert "0/1" in c.get("/rooms?q=9").get_data(as_text=True)
    assert "Near the lifts" not in c.get("/rooms?q=9", headers={"HX-Request": "true"}).get_data(as_text=True)
    for role in ("faculty", "resident"):
        assert role_client(role).get("/rooms").status_code == 403


def test_room_form_add_duplicate_edit(role_client):
    _room("7A")
    c = role_client("admin")
    resp = c.post("/rooms/new", data={"room_number": "7a", "description": "", "doctor_capacity": "1"})
    assert resp.status_code == 422 and "Room number already exists" in resp.get_data(as_text=True)
    resp = c.post("/rooms/new", data={"room_number": "15", "description": "Annexe", "doctor_capacity": "4"})
    assert resp.status_code == 303
    room = rooms.room_by_number("15")
    assert room.doctor_capacity == 4 and room.description == "Annexe"
    resp = c.post(f"/rooms/{room.id}/edit", data={"room_number": "15", "description": "", "doctor_capacity": "9"})
    assert resp.status_code == 422 and "from 1 to 5" in resp.get_data(as_text=True)
    assert c.post(f"/rooms/{room.id}/active", data={"active": "0"}).status_code == 303
    db.session.refresh(room)
    assert not room.is_active
    assert "15" in c.get("/rooms?state=inactive").get_data(as_text=True)


def test_page_delete_refuses_room_with_history(role_client):
    room = _room("20")
    _visit(patient_row(), room)
    c = role_client("admin")
    assert "has history" in c.get("/rooms").get_data(as_text=True)
    resp = c.post(f"/rooms/{room.id}/delete", follow_redirects=True)
    assert "deactivate it instead" in resp.get_data(as_text=True)
    assert db.session.get(Room, room.id) is not None


def test_admin_moves_a_doctor_on_the_rooms_page(role_client, users):
    _room("30", capacity=2)
    c = role_client("admin")
    html = c.get("/rooms").get_data(as_text=True)
    assert "id=\"doctors-today\"" in html and users["resident"].name in html
    resp = c.post(f"/rooms/doctors/{users['resident'].id}", data={"room_number": "30"}, follow_redirects=True)
    assert f"{users['resident'].name} now sits in room 30 today" in resp.get_data(as_text=True)
    assert rooms.room_of(users["resident"].id).room_number == "30"
    resp = c.post(f"/rooms/doctors/{users['resident'].id}", data={"room_number": ""}, follow_redirects=True)
    assert rooms.room_of(users["resident"].id) is None


def test_taking_a_room_answers_the_patients_it_gave(client, h, users):
    """POST /api/users/rooms/select and PUT /api/users/:id/change-room say which of the room's
    waiting, unassigned patients the doctor was given (the original's patients_assigned and
    patients); GET /api/users/rooms/available has each room's patients of all time."""
    _room("71", capacity=2)
    _room("72", capacity=1)
    first, second = patient_row("Amrit First"), patient_row("Baljit Second")
    for p in (first, second):
        assert client.post("/api/patients", json={"patient_id": p.id, "assigned_room": "71"},
                           headers=h["pwo"]).status_code in (200, 201)
    other = patient_row("Chaman Other")
    client.post("/api/patients", json={"patient_id": other.id, "assigned_room": "72"}, headers=h["pwo"])
    avail = client.get("/api/users/rooms/available", headers=h["resident"]).get_json()["data"]
    assert avail["distribution"] == {"71": 2, "72": 1} and avail["distribution_today"] == {"71": 2, "72": 1}
    resp = client.post("/api/users/rooms/select", json={"room_number": "71"}, headers=h["resident"])
    data = resp.get_json()["data"]
    assert resp.status_code == 200 and data["room"] == "71" and data["room_id"] and data["assignment_time"]
    assert data["patients_assigned"] == 2
    assert data["patients"] == [
        {"id": first.id, "name": "Amrit First", "assigned_room": "71", "patient_type": "adult"},
        {"id": second.id, "name": "Baljit Second", "assigned_room": "71", "patient_type": "adult"}]
    # A second doctor in the shared room takes nobody's patients.
    data = client.post("/api/users/rooms/select", json={"room_number": "71"}, headers=h["faculty"]).get_json()["data"]
    assert data["patients_assigned"] == 0 and data["patients"] == []
    # The Admin moves the resident to room 72: its waiting patient is theirs.
    resp = client.put(f"/api/users/{users['resident'].id}/change-room", json={"new_room": "72"}, headers=h["admin"])
    data = resp.get_json()["data"]
    assert resp.status_code == 200 and data["old_room"] == "71" and data["new_room"] == "72"
    assert data["doctor"]["id"] == users["resident"].id
    assert data["patients_assigned"] == 1
    assert data["patients"] == [{"id": other.id, "name": "Chaman Other", "assigned_room": "72",
                                 "patient_type": "adult"}]
