"""The record room: the file state machine in the service, the pages (to retrieve for
today, out of the room, bulk moves with a per-file result, single moves, archive with
confirmation), the movement history fragment and the status statistics page."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from emrs.clinical.models import ClinicalProforma
from emrs.errors import Forbidden, ValidationError
from emrs.extensions import db
from emrs.intake import record_room
from emrs.intake.models import FileMovement, IntakeRecord
from emrs.intake.service import ensure_for_complex_case
from emrs.patients.models import Patient, PatientVisit
from emrs.timeutil import today_ist

_n = {"i": 0}


def make_record(doctor, *, visit_today=False, name="Harbhajan Kaur", room="R-7"):
    """A patient with a complex-case proforma (hence an intake record, status created)."""
    _n["i"] += 1
    p = Patient(name=f"{name} {_n['i']}", name_key=f"hrbhjn {_n['i']}", sex="F", age=44,
                cr_no=f"CRRR{_n['i']:06d}")
    db.session.add(p)
    db.session.flush()
    proforma = ClinicalProforma(patient_id=p.id, filled_by=doctor.id, assigned_doctor=doctor.id,
                                visit_date=today_ist(), visit_type="first_visit", doctor_decision="complex_case")
    db.session.add(proforma)
    db.session.flush()
    record, created = ensure_for_complex_case(p, proforma, doctor)
    assert created
    if visit_today:
        db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist(), visit_type="follow_up",
                                    visit_status="scheduled", assigned_doctor_id=doctor.id, room_no=room))
    db.session.commit()
    return record


# ------------------------------------------------------------------ service

def test_state_machine_in_the_service(ctx, users):
    pwo, doc = users["pwo"], users["resident"]
    r = make_record(doc)
    with pytest.raises(ValidationError, match="Current status: created"):
        record_room.retrieve(r, pwo)
    with pytest.raises(ValidationError, match="File is not checked out. Current status: created"):
        record_room.return_file(r, pwo)
    record_room.store(r, pwo, location="Rack C-3")
    assert r.file_status == "stored" and r.physical_file_location == "Rack C-3"
    with pytest.raises(ValidationError, match="Current status: stored"):
        record_room.store(r, pwo)
    record_room.retrieve(r, pwo, note="For Dr's clinic")
    assert r.file_status == "retrieved" and r.last_accessed_by == pwo.id and r.last_accessed_date == today_ist()
    record_room.return_file(r, pwo)
    record_room.retrieve(r, pwo)
    record_room.archive(r, pwo)
    assert r.file_status == "archived" and r.is_active is False
    with pytest.raises(ValidationError, match="File is already archived"):
        record_room.archive(r, pwo)
    with pytest.raises(ValidationError, match="Current status: archived"):
        record_room.retrieve(r, pwo)
    hist = record_room.movement_history(r)
    assert [m["movement_type"] for m in hist] == ["archived", "retrieved", "returned", "retrieved", "stored", "created"]
    assert (hist[0]["from_location"], hist[0]["to_location"]) == ("Doctor Office", "Archive Room")
    assert hist[4]["to_location"] == "Rack C-3" and hist[3]["notes"] == "For Dr's clinic"
    assert all(m["moved_by_name"] == pwo.name for m in hist[:5])


def test_delete_marks_notes(ctx, users):
    r = make_record(users["resident"])
    r.notes = "Old file"
    db.session.commit()
    with pytest.raises(Forbidden):  # withdrawing the work-up is a clinician's act
        record_room.delete(r, users["pwo"])
    record_room.delete(r, users["resident"])
    assert r.notes == "Old file [DELETED]" and r.file_status == "archived" and not r.is_active


def test_bulk_each_file_on_its_own(ctx, users):
    pwo, doc = users["pwo"], users["resident"]
    good = [make_record(doc) for _ in range(2)]
    for r in good:
        record_room.store(r, pwo)
    new = make_record(doc)
    done, errors = record_room.bulk_retrieve([good[0].id, new.id, 0, "7x", 424242, good[1].id, good[0].id], pwo)
    assert [r.id for r in done] == [good[0].id, good[1].id]
    assert errors == [f"File {new.id}: Not found or not available for retrieval", "File 0: Not a valid file id",
                      "File 7x: Not a valid file id", "File 424242: Not found or not available for retrieval"]
    db.session.expire_all()
    assert [db.session.get(IntakeRecord, r.id).file_status for r in good] == ["retrieved", "retrieved"]
    done, errors = record_room.bulk_return([good[1].id, new.id], pwo)
    assert [r.id for r in done] == [good[1].id] and errors == [f"File {new.id}: Not found or not checked out"]
    with pytest.raises(ValidationError, match="File IDs array is required"):
        record_room.bulk_retrieve([], pwo)


def test_to_retrieve_today_active_files_and_lists(ctx, users):
    pwo, doc = users["pwo"], users["resident"]
    today_patient = make_record(doc, visit_today=True, room="R-9")
    no_visit = make_record(doc)
    for r in (today_patient, no_visit):
        record_room.store(r, pwo)
    rows = record_room.to_retrieve()
    got = {r["id"]: r for r in rows}
    assert today_patient.id in got and no_visit.id not in got
    assert got[today_patient.id]["visit_room"] == "R-9" and got[today_patient.id]["visit_doctor_name"] == doc.name
    assert record_room.to_retrieve(today_ist() + dt.timedelta(days=1)) == []
    assert {today_patient.id, no_visit.id} <= {r["id"] for r in record_room.all_to_retrieve()}
    record_room.retrieve(today_patient, users["faculty"])
    out = {r["id"]: r for r in record_room.active_files()}
    # The file went to the room and doctor of today's visit, not "with" whoever clicked.
    assert out[today_patient.id]["with_whom"] == doc.name and out[today_patient.id]["retrieved_at"]
    moved = record_room.movement_history(today_patient)[0]
    assert moved["to_location"] == f"Room R-9 · {doc.name}" and moved["moved_by_name"] == users["faculty"].name
    # Without a visit today it goes to the doctors' office, with the person who took it.
    record_room.retrieve(no_visit, pwo)
    assert record_room.movement_history(no_visit)[0]["to_location"] == "Doctor Office"
    assert {r["id"]: r for r in record_room.active_files()}[no_visit.id]["with_whom"] == pwo.name
    assert today_patient.id not in {r["id"] for r in record_room.to_retrieve()}
    # a completed visit no longer asks for the file
    record_room.return_file(today_patient, pwo)
    visit = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == today_patient.patient_id)).scalar_one()
    visit.visit_status = "completed"
    db.session.commit()
    assert today_patient.id not in {r["id"] for r in record_room.to_retrieve()}


def test_api_dicts_are_batched(ctx, users, app):
    from sqlalchemy import event
    ids = [make_record(users["resident"]).id for _ in range(5)]
    records = list(db.session.execute(select(IntakeRecord).where(IntakeRecord.id.in_(ids))).scalars())
    statements = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        dicts = record_room.record_api_dicts(records)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(dicts) == 5 and all(d["assigned_doctor_name"] == users["resident"].name for d in dicts)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 1


# ------------------------------------------------------------------ pages

def test_record_room_page_for_every_role(role_client, users):
    r = make_record(users["resident"], visit_today=True)
    for role in ("pwo", "resident", "faculty", "admin"):
        c = role_client(role)
        html = c.get("/intake/record-room").get_data(as_text=True)
        assert "To retrieve for today" in html and "Out of the record room" in html and "Recently moved" in html
        assert 'href="/intake/record-room"' in html  # the nav link
    html = role_client("pwo").get("/intake/record-room").get_data(as_text=True)
    assert r.adl_no in html and "New files to put away" in html


def test_anonymous_is_sent_to_login(client):
    resp = client.get("/intake/record-room")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_single_moves_and_flashes(role_client, users):
    r = make_record(users["resident"], visit_today=True)
    c = role_client("pwo")
    resp = c.post(f"/intake/{r.id}/store", data={"location": "Rack D-4"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/intake/record-room")
    page = c.get("/intake/record-room").get_data(as_text=True)
    assert "is now in the record room (Rack D-4)" in page
    section = page.split('id="to-retrieve"')[1].split('id="out-of-room"')[0]
    assert r.adl_no in section and "Rack D-4" in section and "R-7" in section
    # wrong move: refused with the current state named, nothing moved
    c.post(f"/intake/{r.id}/return")
    page = c.get("/intake/record-room").get_data(as_text=True)
    assert "File is not checked out. Current status: stored" in page
    c.post(f"/intake/{r.id}/retrieve")
    page = c.get("/intake/record-room").get_data(as_text=True)
    out = page.split('id="out-of-room"')[1].split('id="new-files"')[0]
    assert r.adl_no in out and users["resident"].name in out  # with the doctor of today's visit
    c.post(f"/intake/{r.id}/return", data={"next": f"/intake/{r.id}/movements"})
    assert db.session.get(IntakeRecord, r.id).file_status == "stored"
    assert c.post("/intake/999999/retrieve").status_code == 404
    # an off-site "next" is ignored
    resp = c.post(f"/intake/{r.id}/retrieve", data={"next": "https://evil.example/"})
    assert resp.headers["Location"].endswith("/intake/record-room")


def test_archive_needs_confirmation(role_client, users):
    r = make_record(users["resident"])
    c = role_client("pwo")
    c.post(f"/intake/{r.id}/archive")
    assert db.session.get(IntakeRecord, r.id).file_status == "created"
    c.post(f"/intake/{r.id}/archive", data={"confirm": "yes"})
    row = db.session.get(IntakeRecord, r.id)
    assert row.file_status == "archived" and not row.is_active
    c.post(f"/intake/{r.id}/archive", data={"confirm": "yes"})
    page = c.get("/intake/record-room").get_data(as_text=True)
    assert "File is already archived" in page


def test_bulk_pages_show_a_result_per_file(role_client, users):
    pwo = users["pwo"]
    a = make_record(users["resident"], visit_today=True)
    b = make_record(users["resident"], visit_today=True)
    new = make_record(users["resident"])
    c = role_client("pwo")
    for r in (a, b):
        c.post(f"/intake/{r.id}/store", data={"location": "Rack E"})
    html = c.post("/intake/record-room/bulk-retrieve",
                  data={"file_ids": [str(a.id), str(new.id), "424242", str(b.id)]}).get_data(as_text=True)
    assert "2 files retrieved" in html and "2 files could not be retrieved" in html
    assert html.count("rr-ok") >= 2 and f"File {new.id}: Not found or not available for retrieval" in html
    assert f"{a.adl_no} — retrieved" in html and "File 424242" in html
    db.session.expire_all()
    assert db.session.get(IntakeRecord, a.id).file_status == "retrieved"
    html = c.post("/intake/record-room/bulk-return", data={"file_ids": [str(a.id), str(b.id)]}).get_data(as_text=True)
    assert "2 files returned" in html and "Every chosen file was returned" in html
    resp = c.post("/intake/record-room/bulk-return", data={})
    assert resp.status_code == 302
    moves = db.session.execute(select(FileMovement.movement_type, FileMovement.moved_by)
                               .where(FileMovement.adl_file_id == a.id).order_by(FileMovement.id)).all()
    assert [m for m, _ in moves] == ["created", "stored", "retrieved", "returned"]
    assert all(by == pwo.id for _, by in moves[1:])


def test_movement_history_fragment_and_page(role_client, users):
    r = make_record(users["resident"])
    c = role_client("pwo")
    c.post(f"/intake/{r.id}/store", data={"location": "Rack F-1"})
    frag = c.get(f"/intake/{r.id}/movements", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in frag and "Movement history" in frag and "Rack F-1" in frag
    assert frag.index(">stored<") < frag.index(">created<")  # newest first
    assert users["pwo"].name in frag and users["resident"].name in frag
    page = c.get(f"/intake/{r.id}/movements").get_data(as_text=True)
    assert "<html" in page and "Retrieve for the clinic" in page and "Archive…" in page
    boosted = c.get(f"/intake/{r.id}/movements", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)  # a boosted link swaps the whole body: the page
    assert c.get("/intake/999999/movements").status_code == 404


def test_stats_page(role_client, users):
    r = make_record(users["resident"])
    make_record(users["resident"])
    record_room.store(r, users["pwo"])
    for role in ("pwo", "resident", "faculty", "admin"):
        html = role_client(role).get("/intake/stats").get_data(as_text=True)
        assert "<svg" in html and "Intake files by status" in html
    assert "In the record room" in html and "Archived" in html and "<table" in html
