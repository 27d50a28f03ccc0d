"""The dashboard per role (GET /api/dashboard and the home page): cards, their links to the
lists they count, charts, filters; the registrations calendar."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from emrs.auth.models import SENIOR
from emrs.extensions import db
from emrs.intake.models import IntakeRecord
from emrs.opd.models import DoctorRoom, PatientReferral, Room
from emrs.patients.models import Patient, PatientVisit
from emrs.timeutil import today_ist

from ..factories import patient_row

RATING = ["scored_month", "improved", "open_risk"]  # clinicians only (tests/dashboard/test_rating_figures.py)
ROLE_CARDS = {
    "admin": ["total_patients", "registered_patients", "child_patients", "total_intake_records", "total_staff",
              "total_rooms"] + RATING,
    "faculty": ["adult_patients", "child_patients", "referred_patients"] + RATING,
    "pwo": ["adult_patients", "child_patients", "referred_patients"],
    "resident": ["adult_patients", "child_patients", "referred_patients", "unassigned_patients"] + RATING,
}


def _dash(client, h, role, query=""):
    resp = client.get(f"/api/dashboard{query}", headers=h[role])
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


@pytest.fixture
def world(users):
    room = Room(room_number="3", number_key="3", doctor_capacity=2)
    db.session.add(room)
    db.session.commit()
    mine = patient_row("Mine Assigned", sex="M", age=30, state="punjab", assigned_doctor_id=users["resident"].id)
    in_room = patient_row("In My Room", sex="F", age=50, state="haryana")
    unassigned = patient_row("Nobody's", sex="F", age=20, state="punjab")
    referred = patient_row("Referred To Resident", sex="M", age=70, assigned_doctor_id=users["faculty"].id)
    patient_row("Archived", is_active=False)
    db.session.add(PatientVisit(patient_id=in_room.id, visit_date=today_ist(), visit_type="first_visit",
                                visit_status="scheduled", room_id=room.id, room_no="3",
                                assigned_doctor_id=users["faculty"].id))
    db.session.add(DoctorRoom(user_id=users["resident"].id, room_id=room.id, day=today_ist()))
    db.session.add(PatientReferral(patient_id=referred.id, from_doctor_id=users["faculty"].id,
                                   to_doctor_id=users["resident"].id, status="pending"))
    db.session.add(PatientReferral(patient_id=mine.id, from_doctor_id=users["resident"].id,
                                   to_doctor_id=users["faculty"].id, status="seen"))
    db.session.add(PatientReferral(patient_id=in_room.id, from_doctor_id=users["resident"].id,
                                   to_doctor_id=users["faculty"].id, status="completed"))
    in_room.assigned_doctor_id = users["faculty"].id
    db.session.commit()
    return {"room": room, "mine": mine, "in_room": in_room, "unassigned": unassigned, "referred": referred}


def test_cards_per_role(client, h, users, world):
    patient_row("Dashboard Child", clinic="child", age=8)
    base = {"total": db.session.query(Patient).filter_by(is_active=True).count(),
            "children": db.session.query(Patient).filter_by(is_active=True, clinic="child").count()}
    assert base["children"] >= 1
    admin = _dash(client, h, "admin")
    assert admin["title"] == "Admin Dashboard" and set(admin["cards"]) == set(ROLE_CARDS["admin"])
    assert admin["cards"]["total_patients"] == base["total"]
    assert admin["cards"]["registered_patients"] == base["total"] - base["children"]
    assert admin["cards"]["child_patients"] == base["children"]
    assert admin["cards"]["total_rooms"] == db.session.query(Room).count()
    assert admin["cards"]["total_intake_records"] == db.session.query(IntakeRecord).count()
    assert admin["cards"]["total_staff"] >= 3
    faculty = _dash(client, h, "faculty")
    assert faculty["title"] == "Faculty Dashboard" and set(faculty["cards"]) == set(ROLE_CARDS["faculty"])
    assert faculty["cards"]["referred_patients"] == 1  # pending/seen to me; the completed one is closed
    assert faculty["cards"]["child_patients"] == base["children"]
    assert faculty["cards"]["adult_patients"] == base["total"] - base["children"]
    pwo = _dash(client, h, "pwo")
    assert pwo["title"] == "PWO Dashboard" and pwo["cards"]["referred_patients"] == 2  # all open
    jr = _dash(client, h, "resident")
    assert jr["title"] == "Junior Resident Dashboard" and jr["sub_role"] == "Junior Resident"
    assert set(jr["cards"]) == set(ROLE_CARDS["resident"])
    # assigned to me, in my room today, referred to me: 3 of them
    assert jr["cards"]["adult_patients"] == 3 and jr["cards"]["referred_patients"] == 1
    unassigned = jr["cards"]["unassigned_patients"]
    assert unassigned >= 1
    users["resident"].grade = SENIOR
    db.session.commit()
    sr = _dash(client, h, "resident")
    assert sr["title"] == "Senior Resident Dashboard"
    assert set(sr["cards"]) == {"adult_patients", "child_patients", "referred_patients", "total_patients",
                                "unassigned_patients", *RATING}
    assert sr["cards"]["total_patients"] == base["total"]
    assert sr["cards"]["adult_patients"] == base["total"] - base["children"]
    assert sr["cards"]["child_patients"] == base["children"]
    assert sr["cards"]["unassigned_patients"] == unassigned


def test_charts_and_filters(client, h, world):
    data = _dash(client, h, "faculty", "?sex=F&room=3")
    assert data["filters"] == {"sex": "F", "room": "3"}
    assert data["cards"]["adult_patients"] == 0  # nobody is assigned to room 3 as a patient
    data = _dash(client, h, "faculty", "?sex=F")
    charts = data["charts"]
    assert set(charts) == {"gender_distribution", "age_group_distribution", "state_distribution"}
    gender = {d["label"]: d["count"] for d in charts["gender_distribution"]}
    assert gender["Male"] == 0 and gender["Female"] == data["cards"]["adult_patients"]
    assert [d["label"] for d in charts["age_group_distribution"]][:7] == [
        "Under 18", "18-25", "26-35", "36-45", "46-55", "56-65", "65+"]
    states = {d["label"]: d["count"] for d in charts["state_distribution"]}
    assert states.get("Haryana", 0) >= 1 and states.get("Punjab", 0) >= 1
    for query in ("?sex=X", "?room=NoSuchRoom", "?start_date=2026-13-01",
                  "?start_date=2026-05-02&end_date=2026-05-01"):
        resp = client.get(f"/api/dashboard{query}", headers=h["admin"])
        assert resp.status_code == 400 and resp.get_json()["errors"], query
    future = (today_ist() + dt.timedelta(days=400)).isoformat()
    assert _dash(client, h, "admin", f"?start_date={future}")["cards"]["total_patients"] == 0


def test_home_page_titles_and_card_links(role_client, users, world):
    html = role_client("admin").get("/").get_data(as_text=True)
    assert "Admin Dashboard" in html
    for key, href in (("total_rooms", "/rooms"), ("total_staff", "/admin/users"), ("total_intake_records", "/intake")):
        m = re.search(rf'data-card="{key}"><a href="([^"]+)"', html)
        assert m and m.group(1).startswith(href), key
    res = role_client("resident")
    html = res.get("/").get_data(as_text=True)
    assert "Junior Resident Dashboard" in html
    m = re.search(r'data-card="unassigned_patients"><a href="([^"]+)">(\d+)<', html)
    listed = res.get(m.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Nobody&#39;s" in listed or "Nobody's" in listed
    assert "Mine Assigned" not in listed  # the list the card links to is the unassigned one
    m = re.search(r'data-card="referred_patients"><a href="([^"]+)">1<', html)
    assert "Referred To Resident" in res.get(m.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Your child patients" in html
    html = role_client("pwo").get("/").get_data(as_text=True)
    assert "PWO Dashboard" in html and 'id="dash-gender"' in html and 'data-table="dash-state"' in html
    for name in ("registered_today", "visits_waiting", "files_out"):
        assert re.search(rf'data-figure="{name}">\d+<', html)
    bad = role_client("faculty").get("/?sex=nonsense").get_data(as_text=True)
    assert "sex must be M, F or Other" in bad and "Faculty Dashboard" in bad


def test_registrations_by_date_and_calendar(client, h, role_client, world):
    month = today_ist().strftime("%Y-%m")
    resp = client.get(f"/api/patients/registrations-by-date?month={month}&date={today_ist().isoformat()}",
                      headers=h["pwo"])
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    today = next(d for d in data["days"] if d["date"] == today_ist().isoformat())
    assert today["count"] >= 5 and data["month"] == month and data["total"] >= today["count"]
    assert len(data["days"]) in (28, 29, 30, 31)
    assert data["by_room"][-1]["room"] is None  # the patients of the world have no assigned room
    for query in ("month=2026-13", "month=abc", "month=2026-1", "date=yesterday"):
        assert client.get(f"/api/patients/registrations-by-date?{query}", headers=h["pwo"]).status_code == 400
    html = role_client("resident").get(f"/calendar?month={month}&date={today_ist().isoformat()}").get_data(
        as_text=True)
    assert f'data-date="{today_ist().isoformat()}" data-count="{today["count"]}"' in html
    assert "by room" in html and "No room" in html
    assert "must be YYYY-MM" in role_client("resident").get("/calendar?month=nope").get_data(as_text=True)


def test_patients_list_unassigned_and_state_filters(role_client, world):
    c = role_client("faculty")
    html = c.get("/patients/?doctor_id=none").get_data(as_text=True)
    assert "Mine Assigned" not in html and ("Nobody&#39;s" in html or "Nobody's" in html)
    html = c.get("/patients/?state=Haryana").get_data(as_text=True)
    assert "In My Room" in html and "Mine Assigned" not in html
    assert c.get("/patients/?unassigned=maybe").status_code == 200
    assert "unassigned must be true or false" in c.get("/patients/?unassigned=maybe").get_data(as_text=True)
