"""OPD pages: the counter (one-step registration, re-queue by CR/QR/name), the slip, and
Today's Patients (room picker, scope, grouped view, polling fragment, row actions)."""
from __future__ import annotations

from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.patients.models import Patient, PatientVisit
from emrs.timeutil import today_ist

from ..factories import patient_row
from .helpers import room, seat

HX = {"HX-Request": "true"}


def _visits(patient_id):
    return db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == patient_id)).scalars().all()


def test_counter_registers_into_a_room_and_shows_the_slip(role_client, users):
    r = room("12", capacity=2)
    seat(users["resident"], r)
    pwo = role_client("pwo")
    page = pwo.get("/opd/counter").get_data(as_text=True)
    assert "12 · 0 today · " + users["resident"].name in page and 'name="assigned_room"' in page
    resp = pwo.post("/opd/counter/register", data={"name": "Sukhwinder Kaur", "sex": "F", "age": "41",
                                                  "contact_number": "9876543210", "assigned_room": "12"})
    assert resp.status_code == 302 and "/slip" in resp.headers["Location"]
    p = db.session.execute(select(Patient).where(Patient.name == "Sukhwinder Kaur")).scalar_one()
    [v] = _visits(p.id)
    assert (v.room_no, v.token_no, v.assigned_doctor_id, v.visit_date) == ("12", 1, users["resident"].id, today_ist())
    slip = pwo.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sukhwinder Kaur" in slip and p.cr_no in slip and "<svg" in slip and "Print slip (A6)" in slip
    for size in ("a6", "80mm"):
        pdf = pwo.get(f"/opd/visits/{v.id}/slip.pdf?size={size}")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data[:4] == b"%PDF"
    assert pwo.get(f"/opd/visits/{v.id}/slip.pdf?size=a3").status_code == 404
    assert role_client("resident").get(f"/opd/visits/{v.id}/slip.pdf").status_code == 200  # clinicians print too
    prints = db.session.execute(select(AuditLog).where(AuditLog.action == "slip_print",
                                                       AuditLog.patient_id == p.id)).scalars().all()
    assert len(prints) == 3 and {row.details["size"] for row in prints} == {"a6", "80mm"}


def test_counter_refuses_without_a_usable_room_and_saves_nothing(role_client):
    room("13", active=False)
    pwo = role_client("pwo")
    before = db.session.execute(select(func.count(Patient.id))).scalar()
    for value, message in (("", "Choose a room"), ("13", "This room is inactive"), ("99", "No such room")):
        resp = pwo.post("/opd/counter/register", data={"name": "Ravi Kumar", "sex": "M", "age": "30",
                                                      "assigned_room": value})
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)
        assert 'value="Ravi Kumar"' in resp.get_data(as_text=True)  # what was typed is kept
    resp = pwo.post("/opd/counter/register", data={"name": "", "sex": "Q", "assigned_room": ""})
    assert resp.status_code == 422 and "Choose a room" in resp.get_data(as_text=True)
    assert db.session.execute(select(func.count(Patient.id))).scalar() == before
    assert role_client("resident").get("/opd/counter").status_code == 403
    assert role_client("admin").get("/opd/counter").status_code == 200


def test_counter_requeues_by_cr_number_qr_or_name(role_client, users):
    r1, r2 = room("14"), room("15")
    p = patient_row("Gurmeet Singh Bhullar", cr_no="CR2025000123", assigned_room="14", assigned_room_id=r1.id)
    pwo = role_client("pwo")
    # The CR number without "CR" (as typed) and Enter: queued in the last room.
    resp = pwo.post("/opd/counter/requeue", data={"q": "2025000123", "room": ""})
    assert resp.status_code == 302 and "/slip" in resp.headers["Location"]
    [v] = _visits(p.id)
    assert (v.room_no, v.token_no, v.visit_type) == ("14", 1, "first_visit")
    # The QR scan types the whole CR number; a room chosen moves the patient there.
    resp = pwo.post("/opd/counter/requeue", data={"q": "CR2025000123", "room": "15"})
    assert resp.status_code == 302
    [v] = _visits(p.id)
    assert (v.room_no, v.token_no) == ("15", 1)
    # A name lists matches; each queues with one button.
    page = pwo.post("/opd/counter/requeue", data={"q": "Gurmeet", "room": ""}).get_data(as_text=True)
    assert "Gurmeet Singh Bhullar" in page and 'name="patient_id"' in page and "last visit" in page
    resp = pwo.post("/opd/counter/requeue", data={"patient_id": str(p.id), "room": ""})
    assert resp.status_code == 302
    # Nothing found, and a patient with no room yet.
    resp = pwo.post("/opd/counter/requeue", data={"q": "zzqqxx"})
    assert resp.status_code == 422 and "No patient matches" in resp.get_data(as_text=True)
    fresh = patient_row("No Room Yet", cr_no="CR2025000999")
    resp = pwo.post("/opd/counter/requeue", data={"q": "CR2025000999"})
    assert resp.status_code == 422 and "Choose a room" in resp.get_data(as_text=True)
    assert _visits(fresh.id) == []


def test_room_picker_then_the_list_with_polling_and_actions(role_client, users, make_user):
    r1, r2 = room("16"), room("17", capacity=1)
    someone = make_user("Faculty", name="Dr Already Seated")
    seat(someone, r2)
    p = patient_row("Harjit Kaur")
    with_pwo = role_client("pwo")
    with_pwo.post("/opd/counter/requeue", data={"patient_id": str(p.id), "room": "16"})
    doc = role_client("resident")
    page = doc.get("/patients/today").get_data(as_text=True)
    assert "Which room are you sitting in today?" in page
    assert "Room 16" in page and "0/1 doctors" in page and "1 patient today" in page
    assert "1/1 doctors: Dr Already Seated" in page and "full" in page  # full rooms are disabled
    assert 'hx-trigger="every 15s"' in page and 'hx-include="#today-filters"' in page
    resp = doc.post("/opd/today/room", data={"room_id": str(r2.id)}, follow_redirects=True)
    assert "Room 17 is full" in resp.get_data(as_text=True)
    resp = doc.post("/opd/today/room", data={"room_id": str(r1.id)}, follow_redirects=True)
    text = resp.get_data(as_text=True)
    assert "You are in room 16 today. 1 waiting patient(s) are now yours." in text
    assert "Which room" not in text and "Harjit Kaur" in text and "waiting" in text
    [v] = _visits(p.id)
    assert v.assigned_doctor_id == users["resident"].id
    frag = doc.get("/opd/today/list?q=harjit", headers=HX).get_data(as_text=True)
    assert "<html" not in frag and "Harjit Kaur" in frag
    assert "Harjit Kaur" not in doc.get("/opd/today/list?q=nobody", headers=HX).get_data(as_text=True)
    # Complete (with undo), then reopen.
    frag = doc.post(f"/opd/visits/{v.id}/complete", headers=HX).get_data(as_text=True)
    assert "visit is completed." in frag and "Undo" in frag and "No patients waiting today." in frag
    frag = doc.post(f"/opd/visits/{v.id}/reopen", headers=HX).get_data(as_text=True)
    assert "is back in the queue" in frag and "Harjit Kaur" in frag
    # Another doctor's patient: refused, with the reason, and nothing changed.
    other = role_client("faculty")
    frag = other.post(f"/opd/visits/{v.id}/room", data={"new_room": "17"}, headers=HX).get_data(as_text=True)
    assert "only they, a doctor of room 16 or an administrator can move them" in frag
    assert db.session.get(PatientVisit, v.id).room_no == "16"
    # See the patient: with the doctor, and on to the proforma.
    resp = doc.post(f"/opd/visits/{v.id}/start", data={"next": "proforma"})
    assert resp.status_code == 302 and f"patient_id={p.id}" in resp.headers["Location"]
    assert db.session.get(PatientVisit, v.id).visit_status == "in_progress"
    assert "with doctor" in doc.get("/patients/today").get_data(as_text=True)


def test_admin_sees_rooms_grouped_and_moves_and_gives_patients(role_client, users):
    r1, r2 = room("18", capacity=2), room("19")
    seat(users["faculty"], r1)
    a, b = patient_row("Inderjit Kaur"), patient_row("Jaswant Singh")
    pwo = role_client("pwo")
    pwo.post("/opd/counter/requeue", data={"patient_id": str(a.id), "room": "18"})
    pwo.post("/opd/counter/requeue", data={"patient_id": str(b.id), "room": "19"})
    loose = patient_row("Kulwant Rai")
    db.session.add(PatientVisit(patient_id=loose.id, visit_date=today_ist(), visit_type="first_visit",
                                visit_status="scheduled"))
    db.session.commit()
    admin = role_client("admin")
    page = admin.get("/patients/today").get_data(as_text=True)
    assert page.index("Room 18") < page.index("Room 19") < page.index("No room assigned")
    assert "1/2 doctors: " + users["faculty"].name in page and "Give to doctor" in page
    [vb] = _visits(b.id)
    frag = admin.post(f"/opd/visits/{vb.id}/claim", data={"doctor_id": str(users["resident"].id)},
                      headers=HX).get_data(as_text=True)
    assert "Jaswant Singh added to the list." in frag
    frag = admin.post(f"/opd/visits/{vb.id}/room", data={"new_room": "18"}, headers=HX).get_data(as_text=True)
    assert "Jaswant Singh moved to room 18, token 2." in frag
    assert db.session.get(PatientVisit, vb.id).assigned_doctor_id == users["faculty"].id


def test_the_department_view_shows_a_rooms_first_patients_and_links_to_all_of_them(role_client):
    r = room("21")
    for n in range(1, 18):  # 17 patients in room 21: the panel shows tokens 1–15
        p = patient_row(f"Queue Patient {n:02d}")
        db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist(), visit_type="follow_up",
                                    visit_status="scheduled", room_id=r.id, room_no="21", token_no=n))
    db.session.commit()
    admin = role_client("admin")
    page = admin.get("/patients/today").get_data(as_text=True)
    assert "Room 21" in page and "17 patients" in page
    assert "Queue Patient 15" in page and "Queue Patient 16" not in page and "Queue Patient 17" not in page
    assert f'href="/patients/today?room={r.id}"' in page and "All 17 patients of room 21" in page
    whole = admin.get(f"/patients/today?room={r.id}").get_data(as_text=True)
    assert "17 patients in this room" in whole and "Queue Patient 17" in whole
    found = admin.get("/opd/today/list?q=Queue+Patient+17", headers=HX).get_data(as_text=True)
    assert "Queue Patient 17" in found and "1 patient" in found  # a search finds the others


def test_the_full_card_form_can_queue_too(role_client):
    room("20")
    pwo = role_client("pwo")
    form = pwo.get("/patients/new").get_data(as_text=True)
    assert 'name="queue_room"' in form and "20 · 0 today" in form
    resp = pwo.post("/patients/new", data={"name": "Tarsem Lal", "sex": "M", "age": "60", "queue_room": "99"})
    assert resp.status_code == 422 and "No such room" in resp.get_data(as_text=True)
    assert db.session.execute(select(Patient).where(Patient.name == "Tarsem Lal")).first() is None
    resp = pwo.post("/patients/new", data={"name": "Tarsem Lal", "sex": "M", "age": "60", "queue_room": "20"})
    assert resp.status_code == 302 and "/slip" in resp.headers["Location"]
    page = pwo.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Tarsem Lal" in page and "Out-patient record" in page


def test_a_returning_patients_row_leads_to_a_follow_up_note_and_its_prescription(role_client, users, client, h):
    import datetime as dt
    from emrs.followups.models import FollowUp
    from ..factories import proforma_row
    r = room("22")
    seat(users["resident"], r)
    p = patient_row("Harbhajan Lal")
    proforma_row(p, users["resident"], visit_date=today_ist() - dt.timedelta(days=30))
    db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist() - dt.timedelta(days=30),
                                visit_type="first_visit", visit_status="completed"))
    db.session.commit()
    pwo = role_client("pwo")
    pwo.post("/opd/counter/requeue", data={"patient_id": str(p.id), "room": "22"})
    [v] = [x for x in _visits(p.id) if x.visit_date == today_ist()]
    assert v.visit_type == "follow_up"
    doc = role_client("resident")
    page = doc.get("/patients/today").get_data(as_text=True)
    row = page[page.index("Harbhajan Lal"):]
    row = row[:row.index("</tr>")]
    assert 'value="followup"' in row and "Follow-up note" in row and f"/patients/{p.id}/refer" in row
    resp = doc.post(f"/opd/visits/{v.id}/start", data={"next": "followup"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/follow-ups/new?patient_id={p.id}")
    assert db.session.get(PatientVisit, v.id).visit_status == "in_progress"
    db.session.add(FollowUp(patient_id=p.id, visit_id=v.id, visit_date=today_ist(), filled_by=users["resident"].id,
                            clinical_assessment="Better; continue."))
    db.session.commit()
    note = db.session.execute(select(FollowUp.id).where(FollowUp.patient_id == p.id)).scalar_one()
    frag = doc.get("/opd/today/list", headers=HX).get_data(as_text=True)
    row = frag[frag.index("Harbhajan Lal"):]
    row = row[:row.index("</tr>")]
    assert "follow-up note done" in row and f"/follow-ups/{note}" in row and f"/prescriptions/follow-up/{note}" in row
    api = client.get(f"/api/patients?date={today_ist().isoformat()}", headers=h["resident"]).get_json()["data"]["patients"]
    [mine] = [x for x in api if x["id"] == p.id]
    assert mine["queue_status"] == "follow-up note done" and mine["followup_id"] == note
