"""The OPD queue under /api/patients (later-features.md §3): change room, transfer, add to
my list, reopen a completed visit, a room's queue. Thin adapters over emrs/opd/queue.py;
today's list itself is GET /api/patients?date= (api/patients.py)."""
from __future__ import annotations

from ..auth.guard import principal
from ..opd import queue as opd_queue
from ..patients import reading
from . import bp
from .envelope import json_body, ok
from .openapi_schema import BOOL, DATE, ID, INT, STR, Op, arr, null, obj, ref
from .users import parse_id


def _patient_and_visit(raw_id: str):
    patient = reading.get_patient(parse_id(raw_id), audit_action=None)
    return patient, opd_queue.todays_visit_of(patient)


def _answer(patient, visit, message: str, **extra):
    return ok({"patient": reading.patient_dict(patient), "visit": opd_queue.visit_dict(visit), **extra}, message)


@bp.post("/patients/<patient_id>/change-room", endpoint="patients_change_room")
def patients_change_room(patient_id):
    data = json_body()
    patient, visit = _patient_and_visit(patient_id)
    old_room = visit.room_no
    visit = opd_queue.change_room(visit, patient, data.get("new_room"), principal())
    doctor = opd_queue.doctor_summary(visit.assigned_doctor_id)
    return _answer(patient, visit, f"Patient moved to room {visit.room_no}", room_changed=True, old_room=old_room,
                   new_room=visit.room_no, token_no=visit.token_no, new_doctor_id=visit.assigned_doctor_id,
                   new_doctor_name=doctor["name"], new_doctor_role=doctor["role"])


@bp.post("/patients/<patient_id>/transfer", endpoint="patients_transfer")
def patients_transfer(patient_id):
    data = json_body()
    patient, visit = _patient_and_visit(patient_id)
    visit = opd_queue.transfer(visit, patient, data.get("target_doctor_id"), principal())
    return _answer(patient, visit, "Patient transferred successfully")


@bp.post("/patients/<patient_id>/add-to-my-list", endpoint="patients_add_to_my_list")
def patients_add_to_my_list(patient_id):
    data = json_body(required=False)
    patient, visit = _patient_and_visit(patient_id)
    visit = opd_queue.claim(visit, patient, principal(), data.get("doctor_id"))
    return _answer(patient, visit, "Patient added to the doctor's list")


@bp.post("/patients/<patient_id>/visits/reopen", endpoint="patients_visits_reopen")
def patients_visits_reopen(patient_id):
    patient = reading.get_patient(parse_id(patient_id), audit_action=None)
    visit = opd_queue.reopen(opd_queue.completed_visit_today(patient), patient, principal())
    return _answer(patient, visit, "Visit reopened")


@bp.get("/patients/by-room/<room_number>", endpoint="patients_by_room")
def patients_by_room(room_number):
    room, rows = opd_queue.room_patients(room_number, principal())
    return ok({"patients": [opd_queue.row_dict(r) for r in rows], "room_number": room.room_number,
               "count": len(rows)})


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

QUEUE_ROW = obj({
    "id": INT, "name": STR, "cr_no": null(STR), "psy_no": null(STR), "age": null(INT), "sex": null(STR),
    "contact_number": null(STR), "assigned_room": null(STR), "room_id": null(INT), "token_no": null(INT),
    "visit_id": INT, "visit_date": DATE, "visit_type": STR, "visit_status": STR,
    "queue_status": {"type": "string", "enum": list(opd_queue.STATUSES),
                     "description": "What the day's visit has reached."},
    "assigned_doctor_id": null(INT), "assigned_doctor_name": null(STR), "assigned_doctor_role": null(STR),
    "has_visit_today": BOOL, "has_proforma_today": BOOL, "proforma_id": null(INT), "followup_id": null(INT),
    "prescription_id": null(INT),
    "waiting_minutes": null(INT), "patient_type": STR,
    "open_risk_items": {"type": ["integer", "null"], "minimum": 0, "description": (
        "How many of the patient's rating scales have a positive risk item (e.g. PHQ-9 item 9) that no "
        "clinician has acknowledged yet (0: none). null for a caller who may not read rating scales "
        "(a welfare officer): it is clinical information.")}},
    description="A patient in the day's queue.")
MOVED = obj({"patient": ref("Patient"), "visit": ref("Visit")})
ROOM = {"type": "string", "minLength": 1, "maxLength": 20}

OPENAPI_SCHEMAS = {"QueueRow": QUEUE_ROW}
OPENAPI = {
    "patients_change_room": Op("Visits", "Send today's patient to another room", obj({
        "patient": ref("Patient"), "visit": ref("Visit"), "room_changed": BOOL, "old_room": null(STR),
        "new_room": STR, "token_no": null(INT), "new_doctor_id": null(INT), "new_doctor_name": null(STR),
        "new_doctor_role": {**null(STR), "description": "The new doctor's role (Faculty, Resident, Admin), or null."}}),
        message="Patient moved to room 7", body=obj({"new_room": ROOM, "patient_type": STR}, required=("new_room",)),
        errors=(404, 409), description="To an active room: a new token there, and the doctor seated in it (the "
                                       "least loaded in a shared room) or none."),
    "patients_transfer": Op("Visits", "Transfer today's patient to a colleague in the same room", MOVED,
                            message="Patient transferred successfully",
                            body=obj({"target_doctor_id": ID, "patient_type": STR}, required=("target_doctor_id",)),
                            errors=(404, 409), description="Only the assigned doctor or an Admin; the colleague "
                                                           "must sit in the same shared room today."),
    "patients_add_to_my_list": Op("Visits", "Claim an unassigned patient of today", MOVED,
                                  message="Patient added to the doctor's list",
                                  body=obj({"doctor_id": ID, "patient_type": STR}, required=()), body_required=False,
                                  errors=(404, 409), description="An Admin names the doctor (doctor_id)."),
    "patients_visits_reopen": Op("Visits", "Undo completing today's visit", MOVED, message="Visit reopened",
                                 errors=(404, 409), description="Same day only."),
    "patients_by_room": Op("Visits", "Today's queue of one room (Admin)", obj({
        "patients": arr("QueueRow"), "room_number": STR, "count": INT}), errors=(404,)),
}
