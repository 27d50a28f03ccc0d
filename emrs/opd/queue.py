"""The OPD queue of the day: putting a patient in a room's queue with a token, routing the
visit to a doctor sitting in that room, Today's Patients, and what doctors do with a queued
patient (start, change room, transfer, claim, complete, reopen); closing the days gone by.

One visit per patient per day: queueing a patient who already has a visit today moves that
visit (another room: a new token there; the same room: the token is kept). "Today" is
always the server's IST day. Every write is audited; the caller's request commits through
these functions (each commits once) unless ``commit=False`` is passed.

Routing rule (one place, used by registration, re-queueing, change of room and a doctor
taking a seat): the doctor of a queued visit is the doctor sitting in its room today; in a
shared room the one with the fewest open visits today (earliest seated on a tie); nobody
seated: no doctor (the visit waits, unassigned and claimable). When a doctor sits down and is
the only one in the room, the room's unassigned waiting visits of today go to them.
"""
from __future__ import annotations

import datetime as dt
from collections import namedtuple

from sqlalchemy import Integer, func, literal, or_, select
from sqlalchemy.orm import aliased

from ..audit import service as audit
from ..auth import records
from ..auth.models import ADMIN, PWO, User
from ..auth.permissions import OWN_AND_ROOM, list_scope, register_own_list
from ..auth.users import doctor_to_assign
from ..clinical.models import ClinicalProforma
from ..followups.models import FollowUp
from ..errors import Conflict, Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from ..patients.models import OPEN_VISIT_STATUSES, Patient, PatientVisit
from ..prescriptions.models import Prescription
from ..timeutil import as_utc, today_ist
from . import referrals, rooms
from .models import DoctorRoom, Room
from .rooms import place, room_for, room_of_assignment  # noqa: F401  (queue.room_for, queue.place: callers' names)

OPEN = OPEN_VISIT_STATUSES

# What Today's Patients shows for a visit (derived from the visit and today's records).
WAITING, WITH_DOCTOR, PROFORMA_DONE, NOTE_DONE, RX_WRITTEN, RX_PRINTED, COMPLETED = (
    "waiting", "with doctor", "proforma done", "follow-up note done", "prescription written",
    "prescription printed", "completed")
STATUSES = (WAITING, WITH_DOCTOR, PROFORMA_DONE, NOTE_DONE, RX_WRITTEN, RX_PRINTED, COMPLETED)


# ------------------------------------------------------------------ rooms and doctors



def _open_counts(doctor_ids, day: dt.date) -> dict[int, int]:
    if not doctor_ids:
        return {}
    return dict(db.session.execute(select(PatientVisit.assigned_doctor_id, func.count(PatientVisit.id)).where(
        PatientVisit.visit_date == day, PatientVisit.visit_status.in_(OPEN),
        PatientVisit.assigned_doctor_id.in_(list(doctor_ids))).group_by(PatientVisit.assigned_doctor_id)).all())


def doctor_for(room: Room, day: dt.date | None = None) -> User | None:
    """The doctor a new visit in ``room`` goes to today: the one seated there, in a shared
    room the least loaded (earliest seated on a tie); None when nobody sits there."""
    day = day or today_ist()
    seated = [u for u, _seat in rooms.doctors_in(room.id, day)]
    if len(seated) <= 1:
        return seated[0] if seated else None
    load = _open_counts([u.id for u in seated], day)
    return min(seated, key=lambda u: (load.get(u.id, 0), seated.index(u)))








def _today_visit(patient_id: int, day: dt.date) -> PatientVisit | None:
    return db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == patient_id, PatientVisit.visit_date == day)
        .order_by(PatientVisit.visit_status.in_(OPEN).desc(), PatientVisit.id.desc()).limit(1)).scalar_one_or_none()


def _set_doctor(visit: PatientVisit, patient: Patient, doctor: User | None) -> None:
    visit.assigned_doctor_id = doctor.id if doctor is not None else None
    if doctor is not None:
        patient.assigned_doctor_id, patient.assigned_doctor_name = doctor.id, doctor.name


# ------------------------------------------------------------------ queueing

def queue(patient: Patient, room: Room | str | int, actor: User, *, commit: bool = True,
          action: str = "visit_queue") -> PatientVisit:
    """Put ``patient`` in today's queue of ``room``: today's visit (created, or moved if the
    patient already has one today) gets the room, a token and the room's doctor (see the
    module's routing rule). Same room again: nothing changes, the token is kept (a completed
    visit of today is reopened). Refused for an inactive or unknown room."""
    if not isinstance(room, Room):
        room = room_for(room)
    elif not room.is_active:
        raise ValidationError(f"Room {room.room_number} is not in use",
                              errors=[field_error("assigned_room", "This room is inactive", room.room_number)])
    if not patient.is_active:
        raise ValidationError("This patient is archived and cannot be queued")
    day = today_ist()
    visit = _today_visit(patient.id, day) if patient.id is not None else None
    details = {"room_id": room.id}
    if visit is not None and visit.room_id == room.id:
        if visit.visit_status in OPEN:
            return visit  # already waiting there: same token, same doctor
        visit.visit_status = "scheduled"
        details["reopened"] = True
    elif visit is not None:
        details["old_room_id"] = visit.room_id
        _set_doctor(visit, patient, doctor_for(room, day))
        if visit.visit_status not in OPEN:
            visit.visit_status = "scheduled"
        place(visit, room, day)
    else:
        earlier = 0 if patient.id is None else db.session.execute(select(func.count(PatientVisit.id)).where(
            PatientVisit.patient_id == patient.id)).scalar_one()
        visit = PatientVisit(patient_id=patient.id, visit_date=day, visit_status="scheduled",
                             visit_type="follow_up" if earlier else "first_visit")
        db.session.add(visit)
        _set_doctor(visit, patient, doctor_for(room, day))
        place(visit, room, day)
    patient.assigned_room, patient.assigned_room_id = room.room_number, room.id
    details.update(token=visit.token_no, doctor_id=visit.assigned_doctor_id)
    audit.record(action, "patient_visits", visit.id, patient_id=patient.id, details=details)
    if commit:
        db.session.commit()
    return visit


def requeue_room(patient: Patient, actor: User, room_value=None) -> Room:
    """The room a returning patient is queued to: the one asked for; else the doctor's own
    room today (a doctor bringing a patient into their list); else the patient's last room."""
    if room_value not in (None, ""):
        return room_for(room_value)
    if actor.is_doctor:
        mine = rooms.room_of(actor.id)
        if mine is not None:
            return mine
    last = db.session.get(Room, patient.assigned_room_id) if patient.assigned_room_id else None
    if last is None or not last.is_active:
        raise ValidationError(f"Choose a room for {patient.name}: no room of an earlier visit to go back to",
                              errors=[field_error("assigned_room", "Choose a room")])
    return last


def requeue(patient: Patient, actor: User, room_value=None) -> PatientVisit:
    """A returning patient into today's queue (counter, or a doctor's "existing patient"):
    the room by ``requeue_room``. A patient who never had a room and is named without one
    keeps the older rule: a visit with their assigned doctor (patients.visits)."""
    try:
        room = requeue_room(patient, actor, room_value)
    except ValidationError as no_room:
        if room_value not in (None, ""):
            raise
        from ..patients import visits
        try:
            return visits.new_visit_for_existing(patient, actor)
        except ValidationError:
            raise no_room from None  # neither a room nor a doctor: ask for what the counter has, a room
    return queue(patient, room, actor)


def sit_and_route(doctor: User, room: Room, by: User | None = None) -> tuple[DoctorRoom, list[PatientVisit]]:
    """Seat the doctor for today (rooms.sit) and, when they are the only doctor in the room,
    give them the room's unassigned waiting visits of today. Commits."""
    seat = rooms.sit(doctor, room, by=by)
    taken = rooms.take_waiting(doctor, room)
    db.session.commit()
    return seat, taken


# ------------------------------------------------------------------ actions on a visit

def visit_today(visit_id: int) -> tuple[PatientVisit, Patient]:
    visit = db.session.get(PatientVisit, visit_id)
    patient = db.session.get(Patient, visit.patient_id) if visit is not None else None
    if visit is None or patient is None or not patient.is_active:
        raise NotFound("Visit not found")
    return visit, patient


def todays_visit_of(patient: Patient) -> PatientVisit:
    visit = _today_visit(patient.id, today_ist())
    if visit is None:
        raise NotFound("This patient is not in today's queue")
    return visit


def _require_today_open(visit: PatientVisit) -> None:
    if visit.visit_date != today_ist():
        raise Conflict("This visit is not today's: only today's queue can be changed")
    if visit.visit_status not in OPEN:
        raise Conflict("This visit is already completed: reopen it first")


_NOT_LOOKED_UP = object()


def may_route(actor: User, visit: PatientVisit, my_room=_NOT_LOOKED_UP) -> bool:
    """Admin and the counter move anyone; a doctor moves their own patients, unassigned
    ones, and those waiting in the room they sit in today (``my_room``, looked up when not
    given)."""
    if actor.role in (ADMIN, PWO):
        return True
    if not actor.is_doctor:
        return False
    if visit.assigned_doctor_id in (None, actor.id):
        return True
    mine = rooms.room_of(actor.id) if my_room is _NOT_LOOKED_UP else my_room
    return mine is not None and visit.room_id == mine.id


def _doctor_name(doctor_id) -> str:
    user = db.session.get(User, doctor_id) if doctor_id else None
    return user.name if user is not None else "another doctor"


def change_room(visit: PatientVisit, patient: Patient, room_value, actor: User) -> PatientVisit:
    """Move today's open visit to another active room: a new token there, the doctor by the
    routing rule."""
    _require_today_open(visit)
    room = room_for(room_value, field="new_room")
    if not may_route(actor, visit):
        raise Forbidden(f"{patient.name} is {_doctor_name(visit.assigned_doctor_id)}'s patient: only they, a doctor "
                        f"of room {visit.room_no or '—'} or an administrator can move them")
    if visit.room_id == room.id:
        raise ValidationError(f"{patient.name} is already in room {room.room_number}",
                              errors=[field_error("new_room", "Choose another room", room.room_number)])
    return queue(patient, room, actor, action="visit_change_room")


def transfer(visit: PatientVisit, patient: Patient, target_value, actor: User) -> PatientVisit:
    """Hand today's open visit to a colleague sitting in the same room today. Only the
    assigned doctor (or an administrator) may."""
    _require_today_open(visit)
    if actor.role != ADMIN and visit.assigned_doctor_id != actor.id:
        raise Forbidden("Only the patient's assigned doctor or an administrator can transfer this patient")
    target = doctor_to_assign(target_value, field="target_doctor_id")
    if target.id == visit.assigned_doctor_id:
        raise ValidationError("The patient is already with this doctor",
                              errors=[field_error("target_doctor_id", "Choose a colleague", target.id)])
    seat = rooms.room_of(target.id)
    if visit.room_id is None or seat is None or seat.id != visit.room_id:
        raise ValidationError(f"{target.name} is not sitting in room {visit.room_no or '—'} today",
                              errors=[field_error("target_doctor_id", "Not in this room today", target.id)])
    old = visit.assigned_doctor_id
    _set_doctor(visit, patient, target)
    audit.record("visit_transfer", "patient_visits", visit.id, patient_id=patient.id,
                 details={"from_doctor_id": old, "to_doctor_id": target.id, "room_id": visit.room_id})
    db.session.commit()
    return visit


def claim(visit: PatientVisit, patient: Patient, actor: User, doctor_value=None) -> PatientVisit:
    """"Add to my list": a doctor takes an unassigned patient of today's queue; an
    administrator names the doctor (``doctor_id``)."""
    _require_today_open(visit)
    if visit.assigned_doctor_id is not None:
        raise Conflict(f"{patient.name} is already {_doctor_name(visit.assigned_doctor_id)}'s patient")
    if actor.role == ADMIN:
        if doctor_value in (None, ""):
            raise ValidationError("Choose the doctor", errors=[field_error("doctor_id", "Choose a doctor")])
        doctor = doctor_to_assign(doctor_value, field="doctor_id")
    elif actor.is_doctor:
        doctor = actor
    else:
        raise Forbidden("Only doctors and administrators add patients to a doctor's list")
    _set_doctor(visit, patient, doctor)
    audit.record("visit_claim", "patient_visits", visit.id, patient_id=patient.id,
                 details={"doctor_id": doctor.id})
    db.session.commit()
    return visit


def start(visit: PatientVisit, patient: Patient, actor: User) -> PatientVisit:
    """The doctor calls the patient in: the visit is "with doctor" (in progress). An
    unassigned visit becomes the calling doctor's."""
    _require_today_open(visit)
    changed = visit.visit_status != "in_progress"
    visit.visit_status = "in_progress"
    if visit.assigned_doctor_id is None and actor.is_doctor:
        _set_doctor(visit, patient, actor)
        changed = True
    if changed:
        audit.record("visit_start", "patient_visits", visit.id, patient_id=patient.id,
                     details={"doctor_id": visit.assigned_doctor_id})
    else:
        audit.record("visit_view", "patient_visits", visit.id, patient_id=patient.id)
    db.session.commit()
    return visit


def complete(visit: PatientVisit, patient: Patient, actor: User) -> PatientVisit:
    if visit.visit_status not in OPEN:
        raise Conflict("This visit is already marked as completed")
    visit.visit_status = "completed"
    audit.record("visit_complete", "patient_visits", visit.id, patient_id=patient.id)
    db.session.commit()
    return visit


def reopen(visit: PatientVisit, patient: Patient, actor: User) -> PatientVisit:
    """Undo "completed": back to waiting, the same day only (the token is kept)."""
    if visit.visit_date != today_ist():
        raise Conflict("Only today's visits can be reopened")
    if visit.visit_status != "completed":
        raise Conflict("This visit is not completed")
    other = db.session.execute(select(PatientVisit.id).where(
        PatientVisit.patient_id == patient.id, PatientVisit.visit_date == visit.visit_date,
        PatientVisit.visit_status.in_(OPEN), PatientVisit.id != visit.id)).first()
    if other is not None:
        raise Conflict(f"{patient.name} already has an open visit today")
    visit.visit_status = "scheduled"
    audit.record("visit_reopen", "patient_visits", visit.id, patient_id=patient.id)
    db.session.commit()
    return visit


def completed_visit_today(patient: Patient) -> PatientVisit:
    visit = db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == patient.id, PatientVisit.visit_date == today_ist(),
        PatientVisit.visit_status == "completed").order_by(PatientVisit.id.desc()).limit(1)).scalar_one_or_none()
    if visit is None:
        raise NotFound("No completed visit today to reopen")
    return visit


# ------------------------------------------------------------------ midnight close

_closed_through: dict[str, dt.date] = {}


def close_earlier_days(actor: User | None = None, *, force: bool = False) -> int:
    """Visits of earlier days still scheduled or in progress are closed as ``completed``
    (each with a ``visit_close_day`` audit row saying what its status was). Today's are never
    touched. Lazy callers (the list loads) run it once a day per process; the CLI forces it."""
    today = today_ist()
    if not force and _closed_through.get("day") == today:
        return 0
    stale = list(db.session.execute(select(PatientVisit).where(
        PatientVisit.visit_date < today, PatientVisit.visit_status.in_(OPEN))).scalars())
    for visit in stale:
        audit.record("visit_close_day", "patient_visits", visit.id, patient_id=visit.patient_id,
                     user_id=actor.id if actor is not None else None,
                     details={"was": visit.visit_status, "visit_date": visit.visit_date.isoformat()})
        visit.visit_status = "completed"
    if stale:
        db.session.commit()
    _closed_through["day"] = today
    return len(stale)


# ------------------------------------------------------------------ Today's Patients

MINE, ROOM, ALL = "mine", "room", "all"
ROW_PATIENT_COLUMNS = (Patient.id, Patient.name, Patient.cr_no, Patient.psy_no, Patient.age, Patient.sex,
                       Patient.contact_number, Patient.clinic)
RowPatient = namedtuple("RowPatient", [c.key for c in ROW_PATIENT_COLUMNS])
RowDoctor = namedtuple("RowDoctor", "id name role")


def view_of(user: User, wanted: str | None = None, room_id: int | None = None) -> dict:
    """Which of today's visits a user's list holds: ``{"scope", "room_id", "my_room",
    "can_widen"}``. Junior Residents: their own and their room's, always. Other doctors:
    their room (or their own patients when they have no room) unless they widen to the
    department or pick a room. Administrators and the counter: the department."""
    my_room = rooms.room_of(user.id) if user.is_doctor else None
    if list_scope(user) == OWN_AND_ROOM:
        return {"scope": ROOM if my_room else MINE, "room_id": my_room.id if my_room else None,
                "my_room": my_room, "can_widen": False}
    if room_id:
        return {"scope": ROOM, "room_id": room_id, "my_room": my_room, "can_widen": True}
    if user.is_doctor and wanted != ALL:
        return {"scope": ROOM if my_room else MINE, "room_id": my_room.id if my_room else None,
                "my_room": my_room, "can_widen": True}
    return {"scope": ALL, "room_id": None, "my_room": my_room, "can_widen": True}


def own_patients(user: User, day: dt.date | None = None):
    """The one rule of "their patients" for a list whose scope is OWN_AND_ROOM
    (``auth.permissions.list_scope``: a Junior Resident), as a condition on ``Patient.id``:

    * the patient's doctor is them (``registered_patient.assigned_doctor_id``: set by routing,
      transfer, claim and assignment, so it names the doctor who has the patient now);
    * a visit of ``day`` (today) assigned to them, or in the room they sit in today;
    * an open referral to them (``referrals.referred_to_query``).

    Today's Patients, the dashboard's figures and the patients list all ask this function."""
    day = day or today_ist()
    room = rooms.room_of(user.id)
    of_the_day = PatientVisit.assigned_doctor_id == user.id
    if room is not None:
        of_the_day = or_(of_the_day, PatientVisit.room_id == room.id)
    return or_(Patient.assigned_doctor_id == user.id,
               Patient.id.in_(select(PatientVisit.patient_id).where(PatientVisit.visit_date == day, of_the_day)),
               Patient.id.in_(referrals.referred_to_query(user.id)))


def browsable(user: User):
    """What a Junior Resident's patients list holds (``GET /api/patients``, ``/patients/``
    without a search term): their own patients (``own_patients``) and the patients nobody
    has yet (no assigned doctor), whom any doctor may take — the dashboard's "Unassigned
    patients" card links to them. A condition on ``Patient``."""
    return or_(own_patients(user), Patient.assigned_doctor_id.is_(None))


register_own_list(browsable)  # permissions.own_list_condition asks it


def todays_list(user: User, *, wanted: str | None = None, room_id: int | None = None, search: str | None = None,
                include_completed: bool = False, day: dt.date | None = None) -> tuple[list[dict], dict]:
    """Today's queue as the user may see it: rows ``{"visit", "patient", "doctor", "status",
    "proforma_id", "followup_id", "prescription_id", "waiting_minutes"}`` by room and token (patient and doctor
    as ``RowPatient``/``RowDoctor`` tuples), and the view (``view_of``). Closes earlier days'
    visits first (lazily)."""
    close_earlier_days(user)
    day = day or today_ist()
    view = view_of(user, wanted, room_id)
    doctor = aliased(User)
    # Only the columns a row shows, as plain tuples (the patient card has ~90 columns, and
    # building ORM objects for them is most of the cost): the list is read every 15 s.
    # A positive risk item of a rating scale nobody has acknowledged: counted in this query (no
    # query per row), for the readers of rating scales only (a welfare officer's rows carry None).
    from ..assessments import service as assessments
    reads_scales = records.may(user, records.READ, records.ASSESSMENT)
    risk_count = assessments.open_risk_count(Patient.id) if reads_scales else literal(None, Integer)
    q = (select(PatientVisit, *ROW_PATIENT_COLUMNS, doctor.id, doctor.name, doctor.role, risk_count)
         .join(Patient, Patient.id == PatientVisit.patient_id)
         .outerjoin(doctor, doctor.id == PatientVisit.assigned_doctor_id)
         .where(PatientVisit.visit_date == day, Patient.is_active.is_(True)))
    if not include_completed:
        q = q.where(PatientVisit.visit_status.in_(OPEN))
    if list_scope(user) == OWN_AND_ROOM:
        # A Junior Resident: their own patients and their room's (own_patients, the one rule),
        # which holds those referred to them.
        q = q.where(or_(PatientVisit.assigned_doctor_id == user.id, own_patients(user, day)))
    elif view["scope"] == MINE:
        q = q.where(PatientVisit.assigned_doctor_id == user.id)
    elif view["scope"] == ROOM:
        cond = PatientVisit.room_id == view["room_id"]
        if view["my_room"] is not None and view["my_room"].id == view["room_id"]:
            cond = or_(cond, PatientVisit.assigned_doctor_id == user.id)  # my room and my own patients
        q = q.where(cond)
    term = (search or "").strip()[:100]
    if term:
        like = f"%{term.replace('%', '').replace('_', '')}%"
        q = q.where(or_(Patient.name.ilike(like), Patient.cr_no.ilike(like)))
    rows = []
    for v, *cols in db.session.execute(q.order_by(PatientVisit.room_no.is_(None), func.length(PatientVisit.room_no),
                                                  PatientVisit.room_no, PatientVisit.token_no, PatientVisit.id)):
        n = len(ROW_PATIENT_COLUMNS)
        *cols, risk_items = cols
        rows.append((v, RowPatient(*cols[:n]), RowDoctor(*cols[n:]) if cols[n] is not None else None, risk_items))
    ids = [p.id for _, p, _, _ in rows] or [0]
    proformas = dict(db.session.execute(select(ClinicalProforma.patient_id, func.max(ClinicalProforma.id)).where(
        ClinicalProforma.patient_id.in_(ids), ClinicalProforma.visit_date == day,
        ClinicalProforma.is_active.is_(True)).group_by(ClinicalProforma.patient_id)).all())
    written = dict(db.session.execute(select(Prescription.clinical_proforma_id, Prescription.id).where(
        Prescription.clinical_proforma_id.in_(list(proformas.values()) or [0]),
        Prescription.withdrawn_at.is_(None))).all())
    # A returning patient's record of the day may be a follow-up note instead of a proforma.
    notes = dict(db.session.execute(select(FollowUp.patient_id, func.max(FollowUp.id)).where(
        FollowUp.patient_id.in_(ids), FollowUp.visit_date == day, FollowUp.is_active.is_(True))
        .group_by(FollowUp.patient_id)).all())
    if notes:
        written_on_notes = dict(db.session.execute(select(Prescription.followup_id, Prescription.id).where(
            Prescription.followup_id.in_(list(notes.values())), Prescription.withdrawn_at.is_(None))).all())
    else:
        written_on_notes = {}
    # A prescription whose PDF was handed out (its print's audit row): one query for the list.
    from ..prescriptions import service as prescriptions
    printed = prescriptions.printed_among(ids, [*written.values(), *written_on_notes.values()]) if rows else set()
    # The referral shown on the row (open, or closed today): one query for the whole list.
    referred_rows = referrals.row_states(ids, day) if rows else {}
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for v, p, d, risk_items in rows:
        pf = proformas.get(p.id)
        note = notes.get(p.id)
        rx = (written.get(pf) if pf else None) or (written_on_notes.get(note) if note else None)
        if v.visit_status not in OPEN:
            status = COMPLETED
        elif rx:
            status = RX_PRINTED if rx in printed else RX_WRITTEN
        elif pf:
            status = PROFORMA_DONE
        elif note:
            status = NOTE_DONE
        elif v.visit_status == "in_progress":
            status = WITH_DOCTOR
        else:
            status = WAITING
        waited = int((now - as_utc(v.created_at)).total_seconds() // 60) if v.created_at else 0
        out.append({"visit": v, "patient": p, "doctor": d, "status": status, "proforma_id": pf,
                    "followup_id": note, "prescription_id": rx, "waiting_minutes": max(waited, 0),
                    "risk": bool(risk_items), "open_risk_items": risk_items if reads_scales else None,
                    "referral": referred_rows.get(p.id)})
    return out, view


PANEL_ROWS = 15  # the department view shows a room's first patients; the room's own list has all


def by_room(rows: list[dict], day: dt.date | None = None, limit: int | None = None) -> list[dict]:
    """Rows grouped in room panels (active rooms in order, with doctors on duty and capacity;
    the "no room" group last): ``{"room", "doctors", "capacity", "rows", "total"}``; with
    ``limit``, each panel keeps its first ``limit`` rows (by token) and ``total`` counts all."""
    panels = [{"room": o["room"], "doctors": o["doctors"], "capacity": o["capacity"], "rows": []}
              for o in rooms.occupancy(day)]
    index = {panel["room"].id: panel for panel in panels}
    loose = {"room": None, "doctors": [], "capacity": None, "rows": []}
    for row in rows:
        panel = index.get(row["visit"].room_id)
        if panel is None and row["visit"].room_id is not None:
            room = db.session.get(Room, row["visit"].room_id)  # an inactive room with patients still in it
            panel = index[room.id] = {"room": room, "doctors": [], "capacity": room.doctor_capacity, "rows": []}
            panels.append(panel)
        (panel or loose)["rows"].append(row)
    out = panels + ([loose] if loose["rows"] else [])
    for panel in out:
        panel["total"] = len(panel["rows"])
        if limit is not None:
            del panel["rows"][limit:]
    return out


def row_actions(user: User, rows: list[dict], my_room) -> dict:
    """What the list offers on each row, with two queries in all: ``{"may_route": {visit id:
    bool}, "colleagues": {visit id: [User]}}`` (colleagues: the doctors seated in the row's
    room today other than its doctor, the transfer targets)."""
    seated: dict[int, list[User]] = {}
    room_ids = {r["visit"].room_id for r in rows if r["visit"].room_id}
    if room_ids:
        for u, seat in db.session.execute(select(User, DoctorRoom).join(DoctorRoom, DoctorRoom.user_id == User.id)
                                          .where(DoctorRoom.day == today_ist(), DoctorRoom.room_id.in_(room_ids))
                                          .order_by(DoctorRoom.since, DoctorRoom.id)):
            seated.setdefault(seat.room_id, []).append(u)
    out = {"may_route": {}, "colleagues": {}}
    for r in rows:
        v = r["visit"]
        out["may_route"][v.id] = may_route(user, v, my_room)
        out["colleagues"][v.id] = [u for u in seated.get(v.room_id, []) if u.id != v.assigned_doctor_id]
    return out


def colleagues(visit: PatientVisit) -> list[User]:
    """Doctors sitting in the visit's room today other than its doctor (transfer targets)."""
    if visit.room_id is None:
        return []
    return [u for u, _s in rooms.doctors_in(visit.room_id) if u.id != visit.assigned_doctor_id]


def room_patients(room_number: str, user: User) -> tuple[Room, list[dict]]:
    """Today's open visits in a room (GET /api/patients/by-room/:room_number)."""
    room = rooms.room_by_number(room_number) if isinstance(room_number, str) and len(room_number) <= 20 else None
    if room is None:
        raise NotFound(f"There is no room {str(room_number)[:20]}")
    rows, _view = todays_list(user, wanted=ALL, room_id=room.id)
    return room, [r for r in rows if r["visit"].room_id == room.id]


def row_dict(row: dict) -> dict:
    """A Today's Patients row for the API: the patient's identity and today's visit."""
    p, v, d = row["patient"], row["visit"], row["doctor"]
    return {"id": p.id, "name": p.name, "cr_no": p.cr_no, "psy_no": p.psy_no, "age": p.age, "sex": p.sex,
            "contact_number": p.contact_number, "assigned_room": v.room_no, "room_id": v.room_id,
            "token_no": v.token_no, "visit_id": v.id, "visit_date": v.visit_date.isoformat(),
            "visit_type": v.visit_type, "visit_status": v.visit_status, "queue_status": row["status"],
            "assigned_doctor_id": v.assigned_doctor_id, "assigned_doctor_name": d.name if d else None,
            "assigned_doctor_role": d.role if d else None, "has_visit_today": True,
            "has_proforma_today": row["proforma_id"] is not None, "proforma_id": row["proforma_id"],
            "followup_id": row["followup_id"],
            "prescription_id": row["prescription_id"], "waiting_minutes": row["waiting_minutes"],
            "patient_type": p.clinic, "open_risk_items": row.get("open_risk_items"),
            "referral_status": row["referral"].status if row.get("referral") else None}


def room_number(room_id: int) -> str | None:
    room = db.session.get(Room, room_id)
    return room.room_number if room is not None else None


def doctor_summary(doctor_id) -> dict:
    """``{name, role}`` of a visit's doctor (nulls when none)."""
    doctor = db.session.get(User, doctor_id) if doctor_id else None
    return {"name": doctor.name if doctor else None, "role": doctor.role if doctor else None}


def visit_dict(visit: PatientVisit) -> dict:
    d = visit.to_dict()
    doctor = db.session.get(User, visit.assigned_doctor_id) if visit.assigned_doctor_id else None
    d["assigned_doctor_name"] = doctor.name if doctor else None
    return d


# ------------------------------------------------------------------ the counter

def find_for_requeue(term: str) -> tuple[Patient | None, list[Patient]]:
    """What the counter's one box found: (the patient whose CR number is exactly the term
    — "CR" may be left off — or None, up to 10 name/CR matches otherwise)."""
    term = (term or "").strip()[:100]
    if not term:
        return None, []
    key = term.upper().replace(" ", "")
    candidates = [key] + ([f"CR{key}"] if key.isdecimal() else [])
    exact = db.session.execute(select(Patient).where(func.upper(Patient.cr_no).in_(candidates),
                                                     Patient.is_active.is_(True)).limit(1)).scalar_one_or_none()
    if exact is not None:
        return exact, []
    if len(term) < 2:
        return None, []
    from ..patients import search
    rows, _total, _est = search.search(term, 1, 10)
    ids = [r["id"] if isinstance(r, dict) else r.id for r in rows]
    found = {p.id: p for p in db.session.execute(select(Patient).where(Patient.id.in_(ids or [0]),
                                                                       Patient.is_active.is_(True))).scalars()}
    return None, [found[i] for i in ids if i in found]


def last_visits(patient_ids) -> dict[int, PatientVisit]:
    """Each patient's newest visit (for the counter's search results)."""
    out: dict[int, PatientVisit] = {}
    if not patient_ids:
        return out
    for v in db.session.execute(select(PatientVisit).where(PatientVisit.patient_id.in_(list(patient_ids)))
                                .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc())).scalars():
        out.setdefault(v.patient_id, v)
    return out


def slip_facts(visit: PatientVisit) -> dict:
    """What an OPD slip prints."""
    patient = db.session.get(Patient, visit.patient_id)
    doctor = db.session.get(User, visit.assigned_doctor_id) if visit.assigned_doctor_id else None
    return {"patient": patient, "visit": visit, "doctor": doctor}
