"""A Junior Resident browses their own patients (permissions.list_scope, the one rule
opd.queue.own_patients: their doctor is the JR, in the JR's room or assigned to them today,
or referred to them) and the patients nobody has yet (opd.queue.browsable); a search finds any patient of the department (permissions.search_scope:
a returning patient who is not yet theirs must be found to be queued). Page and API."""
from __future__ import annotations

import pytest
from flask import g

from emrs.auth.models import RESIDENT
from emrs.extensions import db
from emrs.opd import queue

from ..factories import patient_row
from ..opd.helpers import room, seat

ALL_NAMES = {"Roomtoday Kaur", "Assigned Singh", "Referred Devi", "Nobodys Patient", "Otherroom Lal",
             "Facultys Patient"}
JR_NAMES = {"Roomtoday Kaur", "Assigned Singh", "Referred Devi", "Nobodys Patient"}


@pytest.fixture
def department(ctx, users, client, h):
    """The JR sits in room 40; one patient waits there (routed to the JR), one is assigned to
    the JR from an earlier day, one is referred to the JR by the Faculty member; two are not
    the JR's (the Faculty member's patient waiting in room 41 where nobody sits, another of
    theirs); one is nobody's (no doctor)."""
    jr, fac = users["resident"], users["faculty"]
    g.principal = users["pwo"]
    r40, r41 = room("40"), room("41")
    seat(jr, r40)
    queue.queue(patient_row("Roomtoday Kaur"), r40, users["pwo"])
    patient_row("Assigned Singh", assigned_doctor_id=jr.id, assigned_doctor_name=jr.name)
    referred = patient_row("Referred Devi", assigned_doctor_id=fac.id)
    queue.queue(patient_row("Otherroom Lal", assigned_doctor_id=fac.id), r41, users["pwo"])
    patient_row("Nobodys Patient")
    patient_row("Facultys Patient", assigned_doctor_id=fac.id, assigned_doctor_name=fac.name)
    resp = client.post(f"/api/patients/{referred.id}/refer", json={"to_doctor_id": jr.id}, headers=h["faculty"])
    assert resp.status_code == 201, resp.get_json()
    return jr


def _listed(page: str) -> set[str]:
    return {n for n in ALL_NAMES if n in page}


def test_junior_resident_browses_own_patients_on_the_page(department, role_client):
    jr = role_client("resident")
    page = jr.get("/patients/").get_data(as_text=True)
    assert _listed(page) == JR_NAMES
    assert "Your patients (" in page and "4 patients" in page
    # The htmx answer (filters) keeps the scope.
    part = jr.get("/patients/?sex=F", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Otherroom Lal" not in part and "Facultys Patient" not in part
    # The export is the list as browsed.
    csv = jr.get("/patients/export.csv").get_data(as_text=True)
    assert _listed(csv) == JR_NAMES


def test_junior_resident_search_finds_the_department(department, role_client):
    jr = role_client("resident")
    found = jr.get("/patients/?q=Otherroom").get_data(as_text=True)
    assert "Otherroom Lal" in found and "Your patients (" not in found
    quick = jr.get("/patients/quick-search?q=Facultys").get_data(as_text=True)
    assert "Facultys Patient" in quick


def test_senior_resident_and_faculty_browse_the_department(department, role_client, make_user, login, client):
    fac = role_client("faculty").get("/patients/").get_data(as_text=True)
    assert _listed(fac) == ALL_NAMES and "Your patients (" not in fac
    sr = make_user(RESIDENT, name="Dr Senior Browser")
    sr.grade = "SR"
    db.session.commit()
    login(sr)
    page = client.get("/patients/").get_data(as_text=True)
    assert _listed(page) == ALL_NAMES


def _api_names(client, headers, **params) -> set[str]:
    resp = client.get("/api/patients", query_string={"limit": 100, **params}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return {p["name"] for p in resp.get_json()["data"]["patients"]} & ALL_NAMES


def test_api_list_is_scoped_and_search_is_not(department, client, h):
    assert _api_names(client, h["resident"]) == JR_NAMES
    body = client.get("/api/patients", query_string={"limit": 100}, headers=h["resident"]).get_json()["data"]
    assert body["pagination"]["total"] == 4
    assert _api_names(client, h["faculty"]) == ALL_NAMES
    assert _api_names(client, h["resident"], search="Otherroom") == {"Otherroom Lal"}
    resp = client.get("/api/patients/search", query_string={"q": "Facultys"}, headers=h["resident"])
    assert {p["name"] for p in resp.get_json()["data"]["patients"]} == {"Facultys Patient"}
    cards = client.get("/api/patient-cards", query_string={"limit": 100}, headers=h["resident"]).get_json()["data"]
    key = next(k for k in cards if k != "pagination")
    assert {p["name"] for p in cards[key]} & ALL_NAMES == JR_NAMES


def test_a_junior_resident_brings_a_found_patient_into_their_list(department, client, h):
    """Found by search, queued into the JR's room: now browsed as theirs."""
    [other] = client.get("/api/patients/search", query_string={"q": "Otherroom"},
                         headers=h["resident"]).get_json()["data"]["patients"]
    resp = client.post("/api/patients", json={"patient_id": other["id"]}, headers=h["resident"])
    assert resp.status_code in (200, 201), resp.get_json()
    assert resp.get_json()["data"]["visit"]["room_no"] == "40"
    assert _api_names(client, h["resident"]) == JR_NAMES | {"Otherroom Lal"}
