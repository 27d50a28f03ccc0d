"""From an integrator's side: GET /api/dashboard's optional filters of the original
(later-features.md §4: patient_type, state, doctor_id, referred / referred_only /
non_referred_only, assigned_only / unassigned_only) and GET /api/patients/patients-by-date/:date
(the Admin's list of one IST day's registrations)."""
from __future__ import annotations

import datetime as dt

import pytest

from emrs.extensions import db
from emrs.opd.models import PatientReferral
from emrs.timeutil import today_ist

from ..factories import patient_row

STATE = "filterland"  # only this test's patients live here, so every count is exact


@pytest.fixture
def dataset(users):
    fac, res = users["faculty"], users["resident"]
    a = patient_row("Filter Adult Referred", sex="M", age=30, state=STATE, assigned_doctor_id=fac.id)
    b = patient_row("Filter Adult Plain", sex="F", age=40, state=STATE)
    c = patient_row("Filter Child", sex="F", age=8, state=STATE, clinic="child")
    d = patient_row("Filter Adult Seen", sex="F", age=50, state=STATE, assigned_doctor_id=res.id)
    patient_row("Filter Archived", sex="M", age=60, state=STATE, is_active=False, assigned_doctor_id=fac.id)
    db.session.add_all([
        PatientReferral(patient_id=a.id, from_doctor_id=fac.id, to_doctor_id=res.id, status="pending"),
        PatientReferral(patient_id=d.id, from_doctor_id=res.id, to_doctor_id=fac.id, status="seen"),
        PatientReferral(patient_id=c.id, from_doctor_id=res.id, to_doctor_id=fac.id, status="completed"),  # closed
    ])
    db.session.commit()
    return {"a": a, "b": b, "c": c, "d": d}


def _get(client, h, query, role="admin"):
    return client.get(f"/api/dashboard?state={STATE}&{query}", headers=h[role])


def _data(client, h, query, role="admin"):
    resp = _get(client, h, query, role)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def _admin_counts(client, h, query):
    c = _data(client, h, query)["cards"]
    return c["total_patients"], c["registered_patients"], c["child_patients"]


def test_each_filter_changes_the_counts(client, h, users, dataset):
    fac, res = users["faculty"].id, users["resident"].id
    expected = {  # query -> (total, adults, children)
        "": (4, 3, 1),
        "patient_type=all": (4, 3, 1),
        "patient_type=adult": (3, 3, 0),
        "patient_type=child": (1, 0, 1),
        "patient_type=CHILD": (1, 0, 1),
        f"doctor_id={fac}": (1, 1, 0),  # the archived patient of the same doctor is not counted
        f"doctor_id={res}": (1, 1, 0),
        "referred=all": (4, 3, 1),
        "referred=referred": (2, 2, 0),  # pending and seen; the child's referral is completed
        "referred_only=true": (2, 2, 0),
        "referred=non_referred": (2, 1, 1),
        "non_referred_only=true": (2, 1, 1),
        "referred_only=false": (4, 3, 1),
        "assigned_only=true": (2, 2, 0),
        "unassigned_only=1": (2, 1, 1),
        "assigned_only=false&unassigned_only=false": (4, 3, 1),
        "patient_type=adult&unassigned_only=true": (1, 1, 0),
        "referred=referred&assigned_only=true&sex=M": (1, 1, 0),
    }
    for query, counts in expected.items():
        assert _admin_counts(client, h, query) == counts, query
    resp = client.get("/api/dashboard?state=FilterLand", headers=h["admin"])  # case-insensitive
    assert resp.get_json()["data"]["cards"]["total_patients"] == 4
    assert _data(client, h, "", "faculty")["cards"]["adult_patients"] == 3
    faculty = _data(client, h, "referred=non_referred", "faculty")["cards"]
    assert (faculty["adult_patients"], faculty["child_patients"]) == (1, 1)


def test_filters_apply_to_the_charts(client, h, dataset):
    charts = _data(client, h, "referred=referred")["charts"]
    gender = {d["label"]: d["count"] for d in charts["gender_distribution"]}
    assert (gender["Male"], gender["Female"]) == (1, 1)
    assert charts["state_distribution"] == [{"label": "Filterland", "count": 2}]
    ages = {d["label"]: d["count"] for d in charts["age_group_distribution"]}
    assert (ages["26-35"], ages["46-55"], ages["36-45"]) == (1, 1, 0)
    charts = _data(client, h, "patient_type=child")["charts"]
    assert sum(d["count"] for d in charts["gender_distribution"]) == 1
    assert charts["state_distribution"] == [{"label": "Filterland", "count": 1}]
    charts = _data(client, h, "unassigned_only=true")["charts"]
    assert {d["label"]: d["count"] for d in charts["gender_distribution"]}["Female"] == 2


def test_the_answer_echoes_the_non_default_filters(client, h, users, dataset):
    fac = users["faculty"].id
    data = _data(client, h, f"patient_type=adult&doctor_id={fac}&referred_only=true&assigned_only=true&gender=male")
    assert data["filters"] == {"state": STATE, "patient_type": "adult", "doctor_id": fac, "referred": "referred",
                               "assigned_only": True, "sex": "M"}
    assert _data(client, h, "referred=non_referred&unassigned_only=true")["filters"] == {
        "state": STATE, "referred": "non_referred", "unassigned_only": True}
    plain = client.get("/api/dashboard?patient_type=all&referred=all&assigned_only=false&unassigned_only=0",
                       headers=h["admin"]).get_json()["data"]
    assert "filters" not in plain  # defaults are not echoed


def test_the_rating_cards_carry_the_new_filters_to_their_list(client, h, role_client, users, dataset):
    html = role_client("faculty").get(f"/?state={STATE}&referred_only=true&patient_type=adult").get_data(as_text=True)
    assert "referred=referred" in html and "patient_type=adult" in html
    resp = role_client("faculty").get(f"/rating-scales/patients?figure=open_risk&state={STATE}&referred=referred"
                                      "&assigned_only=true")
    assert resp.status_code == 200


@pytest.mark.parametrize("query,path", [
    ("patient_type=elderly", "patient_type"),
    ("referred=maybe", "referred"),
    ("referred_only=perhaps", "referred_only"),
    ("non_referred_only=2", "non_referred_only"),
    ("assigned_only=yes-please", "assigned_only"),
    ("doctor_id=abc", "doctor_id"),
    ("doctor_id=0", "doctor_id"),
    ("doctor_id=-3", "doctor_id"),
    ("doctor_id=99999999", "doctor_id"),  # no such user
    ("doctor_id=1e3", "doctor_id"),
    ("state=" + "x" * 61, "state"),
    ("assigned_only=true&unassigned_only=true", "unassigned_only"),
    ("referred_only=true&non_referred_only=true", "referred"),
    ("referred=referred&non_referred_only=true", "referred"),
])
def test_bad_values_are_a_clear_400(client, h, query, path):
    resp = client.get(f"/api/dashboard?{query}", headers=h["faculty"])
    assert resp.status_code == 400, query
    body = resp.get_json()
    assert body["success"] is False and body["message"] == "Validation failed"
    assert [e["path"] for e in body["errors"]] == [path] and body["errors"][0]["location"] == "query"


# ------------------------------------------------------------------ patients-by-date

DAY = dt.date(2026, 3, 10)


def _at(utc: str) -> dt.datetime:
    return dt.datetime.fromisoformat(utc).replace(tzinfo=dt.timezone.utc)


@pytest.fixture
def registered(users):
    before = patient_row("Day Before", created_at=_at("2026-03-09T18:29:00"))   # 23:59 IST on the 9th
    first = patient_row("Day First", created_at=_at("2026-03-09T18:31:00"))     # 00:01 IST on the 10th
    last = patient_row("Day Last", created_at=_at("2026-03-10T18:20:00"), clinic="child", age=9)  # 23:50 IST
    archived = patient_row("Day Archived", created_at=_at("2026-03-10T06:00:00"), is_active=False)
    after = patient_row("Day After", created_at=_at("2026-03-10T18:31:00"))     # 00:01 IST on the 11th
    return {"before": before, "first": first, "last": last, "archived": archived, "after": after}


def test_patients_by_date_lists_that_ist_days_registrations(client, h, registered):
    resp = client.get(f"/api/patients/patients-by-date/{DAY.isoformat()}", headers=h["admin"])
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True
    data = body["data"]
    assert data["date"] == "2026-03-10" and data["total"] == 3 == len(data["patients"])
    assert [p["name"] for p in data["patients"]] == ["Day Last", "Day Archived", "Day First"]  # newest first
    # the same day's count as the registrations calendar's
    days = client.get("/api/patients/registrations-by-date?month=2026-03", headers=h["admin"]).get_json()["data"]
    assert next(d["count"] for d in days["days"] if d["date"] == "2026-03-10") == data["total"]
    # each row as GET /api/patients lists it
    listed = client.get("/api/patients?limit=100", headers=h["admin"]).get_json()["data"]["patients"]
    row = next(p for p in listed if p["id"] == registered["first"].id)
    assert next(p for p in data["patients"] if p["id"] == registered["first"].id) == row
    empty = client.get("/api/patients/patients-by-date/2026-03-12", headers=h["admin"]).get_json()["data"]
    assert empty == {"date": "2026-03-12", "patients": [], "total": 0}
    today = client.get(f"/api/patients/patients-by-date/{today_ist().isoformat()}", headers=h["admin"])
    assert today.status_code == 200


def test_patients_by_date_is_the_admins(client, h, registered):
    for role in ("faculty", "resident", "pwo"):
        assert client.get("/api/patients/patients-by-date/2026-03-10", headers=h[role]).status_code == 403
    assert client.get("/api/patients/patients-by-date/2026-03-10").status_code == 401


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01", "2026-02-30", "2026-3-10", "20260310", "0001-01-01",
                                 "9999-12-31", "2026-03-10T00:00", "%20"])
def test_patients_by_date_refuses_a_bad_date(client, h, raw):
    resp = client.get(f"/api/patients/patients-by-date/{raw}", headers=h["admin"])
    assert resp.status_code == 400, raw
    body = resp.get_json()
    assert body["success"] is False and [(e["path"], e["location"]) for e in body["errors"]] == [("date", "params")]
