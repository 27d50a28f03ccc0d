"""The queue service (emrs/opd/queue.py): tokens per room and day, routing to the seated
doctor, one visit per patient per day, actions and their refusals, the midnight close."""
from __future__ import annotations

import datetime as dt

import pytest
from flask import g
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.auth.models import FACULTY, RESIDENT
from emrs.errors import Conflict, Forbidden, ValidationError
from emrs.extensions import db
from emrs.opd import queue
from emrs.patients.models import PatientVisit
from emrs.timeutil import today_ist

from ..factories import patient_row
from .helpers import room, seat


@pytest.fixture
def as_pwo(ctx, users):
    g.principal = users["pwo"]
    return users["pwo"]


def test_tokens_count_up_per_room_and_requeue_keeps_the_token(as_pwo):
    r1, r2 = room("1"), room("2")
    a, b, c = patient_row("Amarjit Singh"), patient_row("Balwinder Kaur"), patient_row("Charan Das")
    va, vb, vc = queue.queue(a, r1, as_pwo), queue.queue(b, r1, as_pwo), queue.queue(c, r2, as_pwo)
    assert (va.token_no, vb.token_no, vc.token_no) == (1, 2, 1)
    assert (va.room_no, va.room_id, va.visit_date, va.visit_status) == ("1", r1.id, today_ist(), "scheduled")
    assert va.visit_type == "first_visit" and va.assigned_doctor_id is None  # nobody seated: claimable
    assert a.assigned_room == "1" and a.assigned_room_id == r1.id
    again = queue.queue(a, "1", as_pwo)  # by number, same room: the same visit and token
    assert again.id == va.id and again.token_no == 1
    moved = queue.queue(a, r2, as_pwo)  # another room: the same visit, a new token there
    assert moved.id == va.id and (moved.room_id, moved.token_no) == (r2.id, 2)
    assert db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == a.id)).scalars().all() == [va]
    actions = [r.action for r in db.session.execute(select(AuditLog).where(AuditLog.patient_id == a.id)).scalars()]
    assert actions == ["visit_queue", "visit_queue"]  # the no-op re-queue writes nothing


def test_inactive_unknown_and_bad_rooms_are_refused(as_pwo):
    room("9", active=False)
    p = patient_row()
    for value, message in (("9", "Room 9 is not in use"), ("404", "There is no room 404"), ("", "Choose a room"),
                           ("x" * 30, "Room must be a room number of at most 20 characters"),
                           (["1"], "Room must be a room number of at most 20 characters")):
        with pytest.raises(ValidationError) as exc:
            queue.queue(p, value, as_pwo)
        assert exc.value.message == message
    assert db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == p.id)).first() is None


def test_routing_to_the_seated_doctor_and_least_loaded_in_a_shared_room(as_pwo, users, make_user):
    solo, shared = room("3"), room("4", capacity=2)
    res, fac = users["resident"], users["faculty"]
    seat(res, solo)
    v = queue.queue(patient_row(), solo, as_pwo)
    assert v.assigned_doctor_id == res.id
    seat(fac, shared)
    other = make_user(RESIDENT, name="Dr Second Resident")
    seat(other, shared)
    first = queue.queue(patient_row(), shared, as_pwo)
    second = queue.queue(patient_row(), shared, as_pwo)
    third = queue.queue(patient_row(), shared, as_pwo)
    assert [first.assigned_doctor_id, second.assigned_doctor_id, third.assigned_doctor_id] == [fac.id, other.id, fac.id]


def test_a_doctor_sitting_down_alone_takes_the_rooms_waiting_patients(as_pwo, users, make_user):
    r = room("5", capacity=2)
    waiting = [queue.queue(patient_row(), r, as_pwo) for _ in range(2)]
    _seat, taken = queue.sit_and_route(users["faculty"], r)
    assert {v.id for v in taken} == {v.id for v in waiting}
    assert all(db.session.get(PatientVisit, v.id).assigned_doctor_id == users["faculty"].id for v in waiting)
    late = queue.queue(patient_row(), r, as_pwo)  # faculty has 2, the newcomer none
    newcomer = make_user(RESIDENT)
    _seat, taken = queue.sit_and_route(newcomer, r)
    assert taken == []  # a second doctor takes nobody's patients
    assert late.assigned_doctor_id == users["faculty"].id


def test_change_room_transfer_claim_complete_reopen(as_pwo, users, make_user):
    a, b = room("6", capacity=2), room("7")
    res, fac = users["resident"], users["faculty"]
    seat(res, a)
    p = patient_row("Daljit Kaur")
    v = queue.queue(p, a, as_pwo)
    assert v.assigned_doctor_id == res.id
    stranger = make_user(RESIDENT, name="Dr Stranger")
    with pytest.raises(Forbidden, match="only they, a doctor of room 6 or an administrator"):
        queue.change_room(v, p, "7", stranger)
    with pytest.raises(ValidationError, match="already in room 6"):
        queue.change_room(v, p, "6", res)
    # Transfer: only the assigned doctor, only to a colleague seated in the same room.
    with pytest.raises(ValidationError, match="is not sitting in room 6"):
        queue.transfer(v, p, fac.id, res)
    seat(fac, a)
    with pytest.raises(Forbidden, match="Only the patient's assigned doctor"):
        queue.transfer(v, p, res.id, fac)
    with pytest.raises(ValidationError, match="already with this doctor"):
        queue.transfer(v, p, res.id, users["admin"])
    queue.transfer(v, p, fac.id, res)
    assert v.assigned_doctor_id == fac.id and p.assigned_doctor_id == fac.id
    # Change room: nobody in room 7, so the visit waits there unassigned, token 1.
    v = queue.change_room(v, p, "7", fac)
    assert (v.room_no, v.token_no, v.assigned_doctor_id) == ("7", 1, None)
    with pytest.raises(ValidationError, match="Choose the doctor"):
        queue.claim(v, p, users["admin"])
    queue.claim(v, p, stranger)
    assert v.assigned_doctor_id == stranger.id
    with pytest.raises(Conflict, match="already Dr Stranger's patient"):
        queue.claim(v, p, res)
    queue.start(v, p, stranger)
    assert v.visit_status == "in_progress"
    queue.complete(v, p, stranger)
    with pytest.raises(Conflict, match="already completed"):
        queue.change_room(v, p, "6", users["admin"])
    with pytest.raises(Conflict, match="already marked as completed"):
        queue.complete(v, p, stranger)
    queue.reopen(v, p, stranger)
    assert v.visit_status == "scheduled" and v.token_no == 1
    with pytest.raises(Conflict, match="not completed"):
        queue.reopen(v, p, stranger)
    actions = [r.action for r in db.session.execute(select(AuditLog).where(AuditLog.patient_id == p.id)
                                                    .order_by(AuditLog.id)).scalars()]
    assert actions == ["visit_queue", "visit_transfer", "visit_change_room", "visit_claim", "visit_start",
                       "visit_complete", "visit_reopen"]


def test_reopen_is_for_today_only_and_the_midnight_close(as_pwo, users):
    r = room("8")
    p, q = patient_row(), patient_row()
    yesterday = today_ist() - dt.timedelta(days=1)
    old = PatientVisit(patient_id=p.id, visit_date=yesterday, visit_type="first_visit", visit_status="in_progress")
    old_waiting = PatientVisit(patient_id=q.id, visit_date=yesterday, visit_type="first_visit",
                               visit_status="scheduled")
    db.session.add_all([old, old_waiting])
    db.session.commit()
    now = queue.queue(q, r, as_pwo)
    assert queue.close_earlier_days(force=True) == 2
    assert (old.visit_status, old_waiting.visit_status, now.visit_status) == ("completed", "completed", "scheduled")
    notes = db.session.execute(select(AuditLog).where(AuditLog.action == "visit_close_day")).scalars().all()
    assert {(n.patient_id, n.details["was"]) for n in notes} == {(p.id, "in_progress"), (q.id, "scheduled")}
    assert queue.close_earlier_days(force=True) == 0
    with pytest.raises(Conflict, match="Only today's visits"):
        queue.reopen(old, p, users["admin"])


def test_todays_list_scope(as_pwo, users, make_user):
    r1, r2 = room("10"), room("11")
    jr, fac = users["resident"], users["faculty"]
    sr = make_user(RESIDENT, name="Dr Senior")
    sr.grade = "SR"
    db.session.commit()
    seat(jr, r1)
    mine = queue.queue(patient_row("In My Room"), r1, as_pwo)
    elsewhere = queue.queue(patient_row("Other Room"), r2, as_pwo)
    assert mine.assigned_doctor_id == jr.id and elsewhere.assigned_doctor_id is None

    def names(user, **kw):
        rows, view = queue.todays_list(user, **kw)
        return [r["patient"].name for r in rows], view["scope"]

    assert names(jr) == (["In My Room"], "room")
    assert names(jr, wanted="all") == (["In My Room"], "room")  # a junior resident cannot widen
    assert names(fac) == ([], "mine")  # no room, nobody assigned
    assert names(fac, wanted="all") == (["In My Room", "Other Room"], "all")
    assert names(sr, room_id=r2.id) == (["Other Room"], "room")
    assert names(users["admin"]) == (["In My Room", "Other Room"], "all")
    assert names(users["pwo"], search="other") == (["Other Room"], "all")
    rows, _ = queue.todays_list(users["admin"])
    assert [r["status"] for r in rows] == ["waiting", "waiting"]
    panels = queue.by_room(rows)
    assert [(pnl["room"].room_number, len(pnl["rows"])) for pnl in panels] == [("10", 1), ("11", 1)]
    assert [d.id for d in panels[0]["doctors"]] == [jr.id]
    assert FACULTY == fac.role
