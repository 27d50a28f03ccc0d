"""/api/patients, /api/patient-cards, /api/out-patient-records and /api/sessions
(contract §5–6): adapters over the patients services (emrs/patients/registration.py,
reading.py, search.py, visits.py)."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..errors import ValidationError, field_error
from ..patients import fields as F
from ..opd import queue as opd_queue
from ..patients import reading, registration, search, visits
from ..timeutil import today_ist
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import (DATE, ID, INT, PATIENT, STR, arr, files_multipart, list_of, null, obj, Op,
                             page_params, patient_filters, query, ref)
from .users import parse_id


def _patient(raw_id: str, audit_action="patient_view"):
    return reading.get_patient(parse_id(raw_id), audit_action=audit_action)


def _read(raw_id: str) -> dict:
    """The patient object of GET requests (the read audited)."""
    return reading.read_patient(parse_id(raw_id))


def _list_response(items, total, estimated, page, limit, key="patients", shape=None):
    if shape is not None:
        items = [shape(p) for p in items]
    pag = page_object(page, limit, total)
    if estimated:
        pag["estimated"] = True  # beyond 10,000 matches the total is the planner's estimate
    return ok({key: items, "pagination": pag})


def _list(key="patients", shape=None):
    page, limit = pagination(default_limit=10)
    limit = min(limit, search.PAGE_MAX)  # the patients list silently caps at 100
    filters, errors = search.parse_filters(request.args)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    single = request.args.get("id")
    if single:
        patient = _read(single)
        return ok({key: [shape(patient) if shape else patient], "pagination": page_object(1, limit, 1)})
    term = (request.args.get("search") or "").strip()
    items, total, est = search.list_patient_dicts(page, limit, filters, term if len(term) >= 2 else None,
                                                  reader=principal())
    return _list_response(items, total, est, page, limit, key, shape)


# ------------------------------------------------------------------ patients

@bp.get("/patients", endpoint="patients_list")
def patients_list():
    if request.args.get("date") is not None:
        return _day_list()
    return _list()


def _day_list():
    """?date=YYYY-MM-DD[&assigned_room=][&scope=all]: that day's queue (Today's Patients),
    scoped to the caller (opd.queue.view_of)."""
    day = visits.parse_date(request.args.get("date"), name="date")
    room_id = None
    if request.args.get("assigned_room"):
        room_id = opd_queue.room_for(request.args["assigned_room"], field="assigned_room").id
    rows, view = opd_queue.todays_list(principal(), wanted=request.args.get("scope"), room_id=room_id,
                                       search=request.args.get("search"),
                                       include_completed=request.args.get("include_completed") == "true", day=day)
    items = [opd_queue.row_dict(r) for r in rows]
    return ok({"patients": items, "pagination": page_object(1, max(len(items), 1), len(items)),
               "date": day.isoformat(), "scope": view["scope"],
               "room": view["room_id"] and opd_queue.room_number(view["room_id"])})


@bp.get("/patients/search", endpoint="patients_search")
def patients_search():
    page, limit = pagination(default_limit=10)
    limit = min(limit, search.PAGE_MAX)
    filters, errors = search.parse_filters(request.args)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    rows, total, est = search.search(request.args.get("q", ""), page, limit, filters)
    return _list_response(reading.with_extras(rows), total, est, page, limit)


@bp.post("/patients", endpoint="patients_create")
def patients_create():
    data = json_body()
    actor = principal()
    if data.get("patient_id") not in (None, ""):
        patient = _patient(str(data.get("patient_id")), audit_action=None)
        visit = opd_queue.requeue(patient, actor, data.get("assigned_room"))
        counts = visits.visits_count(patient)
        return ok({"patient": reading.patient_dict(patient), "visit": opd_queue.visit_dict(visit),
                   "visit_count": counts["visit_count"], "total_visits": counts["visit_count"],
                   "next_visit_number": counts["next_visit_number"], "visit_type": visit.visit_type},
                  "Visit record created successfully", status=201)
    patient = registration.register(data, actor, step="quick")
    body = {"patient": reading.patient_dict(patient)}
    if data.get("assigned_room") not in (None, ""):
        body["visit"] = opd_queue.visit_dict(visits.visit_on(patient.id, today_ist()))
    return ok(body, "Patient registered successfully", status=201)


@bp.post("/patients/register-complete", endpoint="patients_register_complete")
def patients_register_complete():
    patient = registration.register(json_body(), principal(), step="complete")
    return ok({"patient": reading.patient_dict(patient)},
              "Patient registered successfully with complete information", status=201)


@bp.get("/patients/<patient_id>", endpoint="patients_get")
def patients_get(patient_id):
    return ok({"patient": _read(patient_id)})


@bp.put("/patients/<patient_id>", endpoint="patients_update")
def patients_update(patient_id):
    patient = _patient(patient_id, audit_action=None)
    if request.mimetype == "multipart/form-data":
        # A part without a name (key None) is ignored like any unknown field.
        data = {k: v for k, v in request.form.items() if k and not k.startswith("files_to_remove")}
        n_files = _multipart_files(patient, data)
    else:
        data, n_files = json_body(), 0
    if data or not n_files:
        registration.update(patient, data, principal())
    suffix = f" with {n_files} file(s)" if n_files else ""
    return ok({"patient": reading.patient_dict(patient)}, f"Patient updated successfully{suffix}")


def _multipart_files(patient, data: dict) -> int:
    """Files sent with a multipart patient update: the fields are checked first, then the
    new files and removals go through the files service in one transaction."""
    from ..patients import files as files_service
    _values, errors = F.clean({k: v for k, v in data.items() if k in F.ALL_FIELDS},
                              [k for k in data if k in F.ALL_FIELDS], partial=True)
    F.raise_if(errors)
    storages = request.files.getlist("files") + request.files.getlist("attachments[]")
    removed = request.form.getlist("files_to_remove") + request.form.getlist("files_to_remove[]")
    rows = [files_service.resolve_path(patient, path) for path in removed]
    if not storages and not rows:
        return 0
    added, gone = files_service.update(patient, storages, rows, principal())
    return len(added) + len(gone)


@bp.delete("/patients/<patient_id>", endpoint="patients_delete")
def patients_delete(patient_id):
    patient = _patient(patient_id, audit_action=None)
    counts = registration.archive(patient, principal())
    # Contract shape (outside `data`). Deliberate difference: the patient is archived, not deleted.
    return ok(message="Patient and all related records deleted successfully", deletedPatientId=str(patient.id),
              deleted={"patient": True, **counts}, archived=True)


@bp.get("/patients/<patient_id>/profile", endpoint="patients_profile")
def patients_profile(patient_id):
    patient = _patient(patient_id)
    return ok({"patient": reading.patient_dict(patient), "visitHistory": visits.visit_history(patient),
               "clinicalRecords": reading.clinical_records(patient.id, principal()),
               "adlFiles": reading.intake_records(patient.id, principal())})


@bp.get("/patients/<patient_id>/visits", endpoint="patients_visits")
def patients_visits(patient_id):
    patient = _patient(patient_id)
    return ok({"patient": reading.patient_dict(patient), "visitHistory": visits.visit_history(patient)})


@bp.get("/patients/<patient_id>/visits/count", endpoint="patients_visits_count")
def patients_visits_count(patient_id):
    return ok(visits.visits_count(_patient(patient_id)))


@bp.post("/patients/<patient_id>/visits/complete", endpoint="patients_visits_complete")
def patients_visits_complete(patient_id):
    patient = _patient(patient_id, audit_action=None)
    data = json_body(required=False)
    visit = visits.complete_visit(patient, principal(), data.get("visit_date"))
    return ok({"visit": visit.to_dict()}, "Visit marked as completed successfully")


@bp.get("/patients/<patient_id>/clinical-records", endpoint="patients_clinical_records")
def patients_clinical_records(patient_id):
    patient = _patient(patient_id)
    return ok({"patient": reading.patient_dict(patient),
               "clinicalRecords": reading.clinical_records(patient.id, principal())})


@bp.get("/patients/<patient_id>/adl-files", endpoint="patients_adl_files")
def patients_adl_files(patient_id):
    patient = _patient(patient_id)
    return ok({"patient": reading.patient_dict(patient), "adlFiles": reading.intake_records(patient.id, principal())})


@bp.post("/patients/assign", endpoint="patients_assign")
def patients_assign():
    data = json_body()
    if data.get("patient_id") in (None, "") or data.get("assigned_doctor_id") in (None, ""):
        raise ValidationError("patient_id and assigned_doctor_id are required")
    patient = _patient(str(data.get("patient_id")), audit_action=None)
    visit = visits.assign(patient, principal(), data.get("assigned_doctor_id"), data.get("room_no"),
                           data.get("visit_date"), data.get("notes"))
    return ok({"assignment": visit.to_dict()}, "Patient assigned successfully", status=201)


def _by_number(kind, number):
    return ok({"patient": reading.patient_dict(reading.find_by_number(kind, number))})


@bp.get("/patients/cr/<path:cr_no>", endpoint="patients_by_cr")
def patients_by_cr(cr_no):
    return _by_number("cr", cr_no)


@bp.get("/patients/psy/<path:psy_no>", endpoint="patients_by_psy")
def patients_by_psy(psy_no):
    return _by_number("psy", psy_no)


@bp.get("/patients/adl/<path:adl_no>", endpoint="patients_by_adl")
def patients_by_adl(adl_no):
    return _by_number("adl", adl_no)


# ------------------------------------------------------------------ sessions (= visits)

@bp.post("/sessions", endpoint="sessions_create")
def sessions_create():
    data = json_body()
    if data.get("patient_id") in (None, ""):
        raise ValidationError("Validation failed", errors=[field_error("patient_id", "patient_id is required")])
    patient = _patient(str(data.get("patient_id")), audit_action=None)
    if data.get("assigned_doctor_id") in (None, ""):
        visit = visits.new_visit_for_existing(patient, principal())
    else:
        visit = visits.assign(patient, principal(), data.get("assigned_doctor_id"), data.get("room_no"),
                               data.get("visit_date"), data.get("notes"), data.get("visit_type"))
    return ok({"visit": visit.to_dict()}, "Visit created successfully", status=201)


@bp.get("/sessions/patient/<patient_id>", endpoint="sessions_by_patient")
def sessions_by_patient(patient_id):
    return ok(visits.visits_count(_patient(patient_id)))


@bp.post("/sessions/patient/<patient_id>/complete", endpoint="sessions_complete")
def sessions_complete(patient_id):
    return patients_visits_complete(patient_id)


# ------------------------------------------------------------------ card / record views

# The keys of the card (step 1) and record (step 2) views of a patient (the OpenAPI
# document builds their schemas from these).
CARD_KEYS = ("id", "cr_no", "filled_by", "filled_by_name", "created_at", "updated_at", "version") + F.CARD_NAMES
RECORD_KEYS = ("id", "cr_no", "name", "assigned_doctor_id", "assigned_doctor_name", "assigned_doctor_role",
               "created_at", "updated_at", "version") + F.RECORD_NAMES


def _card(p: dict) -> dict:
    return {k: p.get(k) for k in CARD_KEYS}


def _record(p: dict) -> dict:
    return {k: p.get(k) for k in RECORD_KEYS}


@bp.get("/patient-cards", endpoint="patient_cards_list")
def patient_cards_list():
    return _list(key="patient_cards", shape=_card)


@bp.post("/patient-cards", endpoint="patient_cards_create")
def patient_cards_create():
    patient = registration.register(json_body(), principal(), step="card")
    return ok({"patient_card": _card(reading.patient_dict(patient))}, "Patient card created successfully",
              status=201)


@bp.get("/patient-cards/<patient_id>", endpoint="patient_cards_get")
def patient_cards_get(patient_id):
    return ok({"patient_card": _card(_read(patient_id))})


@bp.put("/patient-cards/<patient_id>", endpoint="patient_cards_update")
def patient_cards_update(patient_id):
    patient = _patient(patient_id, audit_action=None)
    registration.update(patient, json_body(), principal(), names=F.CARD_NAMES)
    return ok({"patient_card": _card(reading.patient_dict(patient))}, "Patient card updated successfully")


@bp.get("/out-patient-records", endpoint="out_patient_records_list")
def out_patient_records_list():
    return _list(key="out_patient_records", shape=_record)


@bp.get("/out-patient-records/<patient_id>", endpoint="out_patient_records_get")
def out_patient_records_get(patient_id):
    return ok({"out_patient_record": _record(_read(patient_id))})


@bp.put("/out-patient-records/<patient_id>", endpoint="out_patient_records_update")
def out_patient_records_update(patient_id):
    patient = _patient(patient_id, audit_action=None)
    data = json_body()
    registration.update(patient, data, principal(), names=F.RECORD_NAMES + ("assigned_doctor_id",))
    return ok({"out_patient_record": _record(reading.patient_dict(patient))},
              "Out-patient record updated successfully")


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    "patients_list": Op("Patients", "List or search patients; with date: that day's queue", obj({
        "patients": {"anyOf": [arr("Patient"), arr("QueueRow")], "description": "Patients; with date, QueueRows."},
        "pagination": ref("Pagination"), "date": DATE, "scope": STR, "room": null(STR)},
        required=("patients", "pagination")), params=(
        *page_params(10, cap=100),
        query("date", DATE, "That day's queue (Today's Patients) instead of the patient list, scoped to the caller: "
                            "a Junior Resident's own and room's patients, everyone else the department."),
        query("scope", {"type": "string", "enum": ["all", "room", "mine"]}, "With date: widen or narrow the list."),
        query("include_completed", {"type": "string", "enum": ["true", "false"]}, "With date: completed visits too."),
        query("search", {"type": "string", "maxLength": 100},
              "Search term (≥ 2 characters): CR/PSY/ADL number, mobile or name (typo-tolerant)."),
        *patient_filters(),
        query("id", ID, "Only this patient (404 when there is none).")), errors=(404,),
        response_example={"success": True, "data": {"patients": [], "pagination": {
            "page": 1, "limit": 10, "total": 0, "pages": 0}}},
        description="Newest first, or ranked when searching. Totals are exact up to 10,000 matches; beyond "
                    "that `pagination.estimated` is true."),
    "patients_search": Op("Patients", "Search patients", list_of("patients", "Patient"), params=(
        query("q", {"type": "string", "minLength": 2, "maxLength": 100},
              "CR/PSY/ADL number, mobile or name; at least 2 characters.", required=True),
        *page_params(10, cap=100), *patient_filters())),
    "patients_create": Op("Patients", "Register a patient (quick) or open a visit for one",
                          {"anyOf": [PATIENT, obj({"patient": ref("Patient"), "visit": ref("Visit"),
                                                   "visit_count": INT,
                                                   "visit_type": {"type": "string",
                                                                  "enum": ["first_visit", "follow_up"]}})]},
                          status=201, message="Patient registered successfully",
                          body={"anyOf": [
                              obj({"name": {"type": "string", "minLength": 2, "maxLength": 255},
                                   "sex": null({"type": "string", "enum": ["M", "F", "Other"]}),
                                   "age": null({"type": "integer", "minimum": 0, "maximum": 150}),
                                   "cr_no": null({"type": "string", "maxLength": 50}),
                                   "psy_no": null({"type": "string", "maxLength": 50}),
                                   "contact_number": null({"type": "string",
                                                           "pattern": r"^\+?[0-9][0-9 -]{8,18}[0-9]$"}),
                                   "assigned_room": null({"type": "string", "maxLength": 20})},
                                  required=("name",)),
                              obj({"patient_id": ID, "name": STR,
                                   "assigned_room": null({"type": "string", "maxLength": 20})})]},
                          errors=(404, 409), example={"name": "Gurpreet Singh", "sex": "M", "age": 34},
                          description="New patient: CR number generated when absent; with `assigned_room` (an "
                                      "active room) the patient is queued today in that room with a token, and "
                                      "`visit` is returned. With `patient_id`: the returning patient is queued today "
                                      "(their last room unless `assigned_room` is given), writing today's visit "
                                      "(message \"Visit record created successfully\")."),
    "patients_register_complete": Op("Patients", "Register a patient with card and record fields", PATIENT,
                                     status=201,
                                     message="Patient registered successfully with complete information",
                                     body="PatientInput", errors=(409,),
                                     description="`date` (registration), `seen_in_walk_in_on` and "
                                                 "`worked_up_on` are never after today (IST); an income not "
                                                 "sent stays null (unknown), not 0.",
                                     example={"name": "Harjit Kaur", "sex": "F", "age": 52, "category": "GEN",
                                              "contact_number": "9876543210", "city": "Mohali",
                                              "marital_status": "married"}),
    "patients_get": Op("Patients", "One patient", PATIENT),
    "patients_update": Op("Patients", "Update a patient (JSON, or multipart with files)", PATIENT,
                          message="Patient updated successfully", body="PatientUpdate",
                          multipart=files_multipart(removals=True), errors=(403, 409)),
    "patients_delete": Op("Patients", "Archive a patient (Admin)", message="Patient and all related records "
                          "deleted successfully", extra={
                              "deletedPatientId": STR,
                              "deleted": obj({"patient": {"const": True}, "clinicalProformas": INT,
                                              "adlFiles": INT}),
                              "archived": {"const": True}},
                          description="Deliberate difference: the patient is archived, not deleted."),
    "patients_profile": Op("Patients", "Patient with visits, proformas and intake record", obj({
        "patient": ref("Patient"), "visitHistory": arr("VisitWithDoctor"),
        "clinicalRecords": arr("ProformaWithDoctor"), "adlFiles": arr("IntakeRecordWithCreator")})),
    "patients_visits": Op("Patients", "Visit history", obj({"patient": ref("Patient"),
                                                           "visitHistory": arr("VisitWithDoctor")})),
    "patients_visits_count": Op("Patients", "Visit count", ref("VisitCount")),
    "patients_visits_complete": Op("Patients", "Mark a visit completed", obj({"visit": ref("Visit")}),
                                   message="Visit marked as completed successfully",
                                   body=obj({"visit_date": null(DATE)}, required=()), body_required=False,
                                   description="The visit of `visit_date` (default today, IST)."),
    "patients_clinical_records": Op("Patients", "The patient's proformas", obj({
        "patient": ref("Patient"), "clinicalRecords": arr("ProformaWithDoctor")})),
    "patients_adl_files": Op("Patients", "The patient's intake records", obj({
        "patient": ref("Patient"), "adlFiles": arr("IntakeRecordWithCreator")})),
    "patients_assign": Op("Patients", "Assign a patient to a doctor and room", obj({"assignment": ref("Visit")}),
                          status=201, message="Patient assigned successfully",
                          body=obj({"patient_id": ID, "assigned_doctor_id": ID,
                                    "room_no": null({"type": "string", "maxLength": 20}),
                                    "visit_date": null(DATE), "notes": null({"type": "string",
                                                                             "maxLength": 1000})},
                                   required=("patient_id", "assigned_doctor_id")), errors=(404,)),
    "patients_by_cr": Op("Patients", "Patient by CR number", PATIENT, errors=(404,),
                         description="404 means the CR number is free."),
    "patients_by_psy": Op("Patients", "Patient by PSY number", PATIENT, errors=(404,)),
    "patients_by_adl": Op("Patients", "Patient by ADL number", PATIENT, errors=(404,)),
    # ---------------------------------------------------------------- visits (spec "sessions")
    "sessions_create": Op("Visits", "Create a visit", obj({"visit": ref("Visit")}), status=201,
                          message="Visit created successfully",
                          body=obj({"patient_id": ID, "assigned_doctor_id": null(ID),
                                    "room_no": null({"type": "string", "maxLength": 20}),
                                    "visit_date": null(DATE),
                                    "visit_type": null({"type": "string", "enum": ["first_visit", "follow_up"]}),
                                    "notes": null({"type": "string", "maxLength": 1000})},
                                   required=("patient_id",)), errors=(404,)),
    "sessions_by_patient": Op("Visits", "A patient's visits", ref("VisitCount")),
    "sessions_complete": Op("Visits", "Mark a visit completed", obj({"visit": ref("Visit")}),
                            message="Visit marked as completed successfully",
                            body=obj({"visit_date": null(DATE)}, required=()), body_required=False),
    # ---------------------------------------------------------------- card / record views
    "patient_cards_list": Op("Patient cards", "List patient cards", list_of("patient_cards", "PatientCard"),
                             params=(*page_params(10, cap=100),
                                     query("search", {"type": "string", "maxLength": 100}, "Search term."),
                                     *patient_filters(), query("id", ID, "Only this patient.")), errors=(404,)),
    "patient_cards_create": Op("Patient cards", "Create a patient card", obj({"patient_card": ref("PatientCard")}),
                               status=201, message="Patient card created successfully", body="PatientCardInput",
                               errors=(409,)),
    "patient_cards_get": Op("Patient cards", "One patient card", obj({"patient_card": ref("PatientCard")})),
    "patient_cards_update": Op("Patient cards", "Update a patient card", obj({"patient_card": ref("PatientCard")}),
                               message="Patient card updated successfully", body="PatientCardUpdate",
                               errors=(409,)),
    "out_patient_records_list": Op("Out-patient records", "List out-patient records",
                                   list_of("out_patient_records", "OutPatientRecord"),
                                   params=(*page_params(10, cap=100),
                                           query("search", {"type": "string", "maxLength": 100}, "Search term."),
                                           *patient_filters(), query("id", ID, "Only this patient.")),
                                   errors=(404,)),
    "out_patient_records_get": Op("Out-patient records", "One out-patient record",
                                  obj({"out_patient_record": ref("OutPatientRecord")})),
    "out_patient_records_update": Op("Out-patient records", "Update an out-patient record",
                                     obj({"out_patient_record": ref("OutPatientRecord")}),
                                     message="Out-patient record updated successfully",
                                     body="OutPatientRecordUpdate", errors=(409,)),
}
