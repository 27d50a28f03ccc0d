"""The route walk shared by the route x principal matrix (test_route_matrix.py) and the
audit completeness test (test_audit_completeness.py).

* ``build_world`` makes one of everything a route can name: two patients, a visit, a
  stored file (real bytes on disk), a walk-in proforma filled by the resident, its
  prescription, an intake record, a user-added option, a formulary medicine and a
  throwaway user.
* ``IDS`` maps every URL variable name to the id of the world to use. A rule with a
  variable that is not in ``IDS`` fails both tests with a message that says to add it
  here: a new route is walked from the day it exists.
* ``BODIES`` holds the request body (or query) of the routes that need one to do their
  work; other unsafe requests get a minimal empty body.
* ``PREPARE`` puts the world in the state a route needs (an open visit to complete, a
  fresh file to delete, an intake file in the record room to retrieve).
* ``walk_order`` runs every (rule, method) pair, the destructive ones last and the ones
  that end the caller's own session at the very end.

Adding a route family later (``/fhir/...``, ``/api/openapi.json``) needs a line in
``IDS`` for any new URL variable name and, for a write that should succeed, a line in
``BODIES``.
"""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Callable

from flask import g
from sqlalchemy import inspect, select
from werkzeug.datastructures import FileStorage

from emrs.auth.models import ADMIN, FACULTY, PWO, RESIDENT
from emrs.auth.permissions import AUTH, PERMISSIONS, PUBLIC
from emrs.auth.service import role_matches
from emrs.extensions import db
from emrs.timeutil import today_ist

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# Free text sent to clinical fields during the walk: it must never show up in an audit row.
FREE_TEXT = "Matrix-free-text-7Q9 feels low since the harvest"


def png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes((11, 93, 122)) * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------ the world

@dataclass
class World:
    users: dict
    other_user: object
    patient: object
    patient2: object
    visit: object
    proforma: object
    rx: object
    intake: object
    file: object
    option: object
    medicine: object
    _snapshots: dict = field(default_factory=dict)

    target_file: object = None  # the file a deleting route removes (a fresh one each time)
    icd11_local: object = None   # a local addition to the ICD-11 tree (under the default chapter 06)
    icd11_target: object = None  # the local entry a deactivating route deactivates (a fresh one each time)
    room: object = None          # a shared OPD room (capacity 3): the visit is queued in it, the doctors sit in it
    room2: object = None         # another room, to move the visit to
    room_target: object = None   # a room with no history, for a route that deletes one (a fresh one each time)
    referral: object = None      # an open referral of the patient, resident -> faculty (fresh when closed)
    followup: object = None      # a follow-up note of the patient, written by the resident
    child_id: int = 0            # a child patient (Child Guidance Clinic), aged 10
    child2_id: int = 0           # another child, aged 18: archived and moved to the adult clinic (reset before)
    child_cr: str = ""
    child: object = None         # a patient of the child clinic
    child_proforma: object = None  # the child's walk-in proforma (form 'child'), written by the resident
    cap: object = None           # the first child's CAP work-up (adl_files, form 'cap')
    child_target: object = None  # a child with no work-up yet, for a route that opens one (fresh each time)
    assessment: object = None    # the patient's PHQ-9 by the resident, item 9 positive (risk open, reset before)

    OBJECTS = ("other_user", "patient", "patient2", "visit", "proforma", "rx", "intake", "file", "target_file",
               "option", "medicine", "icd11_local", "icd11_target", "room", "room2", "room_target", "referral",
               "followup", "child", "child_proforma", "cap", "child_target", "assessment")

    def refresh(self):
        """Reload every object (requests change them); a row some route deleted for good
        is kept as its last known values, so later routes still get its (now unknown) id."""
        for name in self.OBJECTS:
            obj = getattr(self, name)
            model = obj.model if isinstance(obj, Gone) else type(obj)
            fresh = db.session.get(model, obj.id if isinstance(obj, Gone) else inspect(obj).identity[0])
            if fresh is None:
                fresh = obj if isinstance(obj, Gone) else Gone(model, self._snapshots[name])
            else:
                self._snapshots[name] = {c.key: getattr(fresh, c.key) for c in fresh.__mapper__.column_attrs}
            setattr(self, name, fresh)


class Gone:
    """A row deleted during the walk: its last column values."""

    def __init__(self, model, values: dict):
        self.model = model
        self.__dict__.update(values)


def _as(user):
    g.principal = user


def build_world(app, users) -> World:
    """One of everything, made through the services (so it looks like real use)."""
    from emrs.auth import service as auth_service
    from emrs.clinical import icd11, options
    from emrs.clinical import service as proformas
    from emrs.intake import service as intake
    from emrs.patients import files
    from emrs.patients import registration, visits
    from emrs.prescriptions import formulary
    from emrs.prescriptions import service as prescriptions

    pwo, resident, admin = users["pwo"], users["resident"], users["admin"]
    with app.test_request_context():
        _as(admin)
        other = auth_service.create_user({"email": "matrix-other@test.emrs.local", "name": "Matrix Other Resident",
                                          "role": RESIDENT, "password": "Passw0rd-test"}, actor=admin)
        option = options.add("mood", "Matrix test option", admin)
        medicine = formulary.add("Matrixamine", "Test class", None, None, admin)
        local = icd11.add_local(icd11.roots()[0].id, "Matrix local ICD-11 entry", None, admin)
        _as(pwo)
        patient = registration.register({"name": "Matrix Patient One", "age": 40, "sex": "M", "psy_no": "PSY-MTX-1",
                                     "assigned_doctor_id": resident.id}, pwo, step="complete")
        patient2 = registration.register({"name": "Matrix Patient Two", "age": 33, "sex": "F"}, pwo, step="complete")
        visit = visits.assign(patient, pwo, resident.id, room_no="R-1")
        from emrs.opd import queue
        from emrs.opd.models import Room
        room, room2 = (Room(room_number="M1", number_key="m1", doctor_capacity=3),
                       Room(room_number="M2", number_key="m2"))
        db.session.add_all([room, room2])
        db.session.commit()
        queue.queue(patient, room, pwo)  # the same visit, now in room M1's queue with a token
        file_row = files.upload(patient, [FileStorage(io.BytesIO(png()), "scan.png")], pwo)[0]
        _as(resident)
        proforma, _record, _rx = proformas.create({"patient_id": patient.id, "visit_date": today_ist().isoformat(),
                                                   "diagnosis": "Depressive episode"}, resident)
        rx, _warnings = prescriptions.save_for_proforma(
            {"clinical_proforma_id": proforma.id,
             "prescription": [{"medicine": "Sertraline 50 mg", "dosage": "1-0-0", "duration": "1 Month"}]}, resident)
        record, _created = intake.upsert({"patient_id": patient.id}, resident)
        from emrs.opd import referrals, rooms
        referral = referrals.refer(patient2.id, users["faculty"].id, None, resident)
        from emrs.followups import service as followups
        followup, _n, _total = followups.create({"patient_id": patient.id, "clinical_assessment": "Stable"}, resident)
        from emrs.assessments import service as assessments
        assessment = assessments.create(patient.id, {"instrument": "phq9", "answers": PHQ9_RISK}, resident)
        from emrs.children import service as children
        _as(pwo)
        child = children.register({"child_name": "Matrix Child One", "mobile_no": "9876500001", "age": 10}, pwo)
        child2 = children.register({"child_name": "Matrix Child Two", "mobile_no": "9876500002", "age": 18}, pwo)
        child_ids = (child.id, child2.id, child.cr_no)
        from emrs.child_clinical import service as child_proformas
        _as(resident)
        child_proforma = child_proformas.create({"child_patient_id": child.id, "reliability": "Good"}, resident)
        from emrs.cap import service as cap_service
        cap = cap_service.create({"child_patient_id": child.id, "hpi_continued": "Settling at school",
                                  "gpe_height_length_cm": 128, "gpe_weight_kg": 26}, resident)
        ids = dict(assessment=assessment.id, child=child.id, child_proforma=child_proforma.id, cap=cap.id, followup=followup.id, other=other.id, option=option.id, medicine=medicine.id, patient=patient.id, patient2=patient2.id,
                   visit=visit.id, file=file_row.id, proforma=proforma.id, rx=rx.id, record=record.id,
                   icd11=local.id, room=room.id, room2=room2.id, referral=referral.id)
    from emrs.auth.models import User
    from emrs.clinical.models import ClinicalOption, ClinicalProforma, Icd11Entity
    from emrs.intake.models import IntakeRecord
    from emrs.opd.models import PatientReferral, Room
    from emrs.patients.models import Patient, PatientFile, PatientVisit
    from emrs.prescriptions.models import Medicine, Prescription
    from emrs.followups.models import FollowUp
    from emrs.assessments.models import Assessment
    get = db.session.get
    return World(users=users, other_user=get(User, ids["other"]), patient=get(Patient, ids["patient"]),
                 patient2=get(Patient, ids["patient2"]), visit=get(PatientVisit, ids["visit"]),
                 proforma=get(ClinicalProforma, ids["proforma"]), rx=get(Prescription, ids["rx"]),
                 intake=get(IntakeRecord, ids["record"]), file=get(PatientFile, ids["file"]),
                 option=get(ClinicalOption, ids["option"]), medicine=get(Medicine, ids["medicine"]),
                 target_file=get(PatientFile, ids["file"]), icd11_local=get(Icd11Entity, ids["icd11"]),
                 icd11_target=get(Icd11Entity, ids["icd11"]), room=get(Room, ids["room"]),
                 room2=get(Room, ids["room2"]), room_target=get(Room, ids["room"]),
                 referral=get(PatientReferral, ids["referral"]), followup=get(FollowUp, ids["followup"]),
                 child_id=child_ids[0], child2_id=child_ids[1], child_cr=child_ids[2],
                 child=get(Patient, ids["child"]), child_proforma=get(ClinicalProforma, ids["child_proforma"]),
                 cap=get(IntakeRecord, ids["cap"]), child_target=get(Patient, child_ids[0]),
                 assessment=get(Assessment, ids["assessment"]))


_child_counter = {"n": 0}


def _new_child(name: str):
    """A child with no CAP work-up yet (a plain child-clinic row: the registration is not this route's)."""
    import datetime as dt
    import uuid
    from emrs.patients.models import Patient
    _child_counter["n"] += 1
    row = Patient(name=name, sex="F", age=8, clinic="child", cr_no=f"CRM{uuid.uuid4().hex[:9].upper()}",
                  date_of_birth=today_ist() - dt.timedelta(days=8 * 365 + 100), name_key="mtrx chld")
    db.session.add(row)
    db.session.commit()
    return row


# ------------------------------------------------------------------ URL variables

IDS: dict[str, Callable[[World], object]] = {
    "patient_id": lambda w: w.patient.id,
    "visit_id": lambda w: w.visit.id,
    "file_id": lambda w: w.file.id,
    "file_path": lambda w: w.file.stored_name,   # /api/patient-files/delete/<patient_id>/<file_path>
    "file_ref": lambda w: str(w.file.id),        # /api/patients/<patient_id>/files/<file_ref>
    "proforma_id": lambda w: w.proforma.id,
    "record_id": lambda w: w.intake.id,
    "rx_id": lambda w: w.rx.id,
    "cr_no": lambda w: w.patient.cr_no,
    "psy_no": lambda w: w.patient.psy_no,
    "adl_no": lambda w: w.intake.adl_no,
    "user_id": lambda w: w.other_user.id,       # never one of the signed-in principals
    "medicine_id": lambda w: w.medicine.id,
    "option_id": lambda w: w.option.id,
    "group": lambda w: w.option.option_group,
    "key": lambda w: "history_present_illness",  # an intake work-up section
    "fmt": lambda w: "csv",
    "filename": lambda w: "css/app.css",
    "entity_id": lambda w: w.icd11_local.id,  # an ICD-11 tree entry: the world's local addition
    "room_id": lambda w: w.room.id,
    "referral_id": lambda w: w.referral.id,
    "followup_id": lambda w: w.followup.id,
    "room_number": lambda w: w.room.room_number,
    "child_id": lambda w: w.child_id,            # /api/child-patient/<child_id>, /children/<patient_id>/...
    "cr_number": lambda w: w.child_cr,           # /api/child-patient/cr/<cr_number>
    "cap_id": lambda w: w.cap.id,                # the child's CAP work-up
    "child_patient_id": lambda w: w.child_id,
    "assessment_id": lambda w: w.assessment.id,
    "code": lambda w: "phq9",                    # /api/instruments/<code>
    "date": lambda w: TODAY(),                   # /api/patients/patients-by-date/<date>: the world's day
}

# Routes that would spoil the shared patient for the rest of the walk use the second one.
_TARGET_FILE = {"file_id": lambda w: w.target_file.id, "file_path": lambda w: w.target_file.stored_name,
                "file_ref": lambda w: str(w.target_file.id)}
ENDPOINT_IDS: dict[str, dict[str, Callable[[World], object]]] = {
    "patients.archive": {"patient_id": lambda w: w.patient2.id},
    "api.patients_delete": {"patient_id": lambda w: w.patient2.id},
    "patients.file_delete": _TARGET_FILE,
    "api.patient_files_delete": _TARGET_FILE,
    "api.patients_files_delete_alias": _TARGET_FILE,
    "api.patients_files_remove": _TARGET_FILE,
    # FHIR resources of the other types are named by the row behind them.
    "fhir.encounter_read": {"resource_id": lambda w: str(w.visit.id)},
    "fhir.condition_read": {"resource_id": lambda w: str(w.proforma.id)},
    "fhir.medication_request_read": {"resource_id": lambda w: f"{w.rx.id}-1"},
    "fhir.questionnaire_response_read": {"resource_id": lambda w: str(w.assessment.id)},
    "fhir.observation_read": {"resource_id": lambda w: str(w.assessment.id)},
    "fhir.questionnaire_read": {"resource_id": lambda w: "phq9"},  # an instrument's code
    # The Admin's withdrawn-records page restores the resident's proforma (a no-op unless withdrawn).
    "clinical.withdrawn_restore": {"kind": lambda w: "proforma", "record_id": lambda w: w.proforma.id},
    "clinical.withdrawn_purge": _TARGET_FILE,
    # The ICD-11 tree: the chapter's children; deactivation takes a fresh local entry.
    "clinical.icd11_children": {"entity_id": lambda w: w.icd11_local.parent_id},
    "clinical.icd11_local_active": {"entity_id": lambda w: w.icd11_target.id},
    "api.icd11_entities_delete": {"entity_id": lambda w: w.icd11_target.id},
    # Deleting a room takes a fresh one with no history (a room with history is never deleted).
    "api.rooms_delete": {"room_id": lambda w: w.room_target.id},
    "opd.room_delete": {"room_id": lambda w: w.room_target.id},
    # A child's pages are /children/<patient_id>/...: the world's child, not its adult patient.
    "children.edit": {"patient_id": lambda w: w.child_id},
    # Archiving and the move to the adult clinic take the second child (aged 18, reset before each).
    "api.child_patient_delete": {"child_id": lambda w: w.child2_id},
    "api.child_patient_move_to_adult": {"child_id": lambda w: w.child2_id},
    "children.move_to_adult": {"patient_id": lambda w: w.child2_id},
    # The child walk-in proforma's routes name the child's proforma.
    **{e: {"proforma_id": lambda w: w.child_proforma.id}
       for e in ("child_clinical.edit", "child_clinical.show", "api.child_proformas_get", "api.child_proformas_update",
                 "api.child_proformas_delete")},
    # The CAP work-up pages name the child's work-up (an adl_files row) and its sections.
    "cap.edit": {"record_id": lambda w: w.cap.id},
    "cap.show": {"record_id": lambda w: w.cap.id},
    "cap.save_section": {"record_id": lambda w: w.cap.id, "key": lambda w: "physical_exam"},
    "api.patient_growth": {"patient_id": lambda w: w.child_id},
}
# The patient a CAP work-up route's audit rows must name (see audited_patient).
PATIENT_OF: dict[str, Callable[[World], int]] = {
    **{e: (lambda w: w.child_id) for e in (
        "cap.edit", "cap.show", "cap.save_section", "api.patient_growth", "api.cap_workup_by_child",
        "api.cap_workup_get", "api.cap_workup_update", "api.cap_workup_delete")},
    "cap.open_for_child": lambda w: w.child_target.id,
    "api.cap_workup_create": lambda w: w.child_target.id,
}

# Routes whose audited patient is a child of the world (see audited_patient).
CHILD_IN_BODY = {"api.child_patient_add_to_today"}


def audited_patient(rule, w: World) -> int:
    """The patient a walked route's audit row must name."""
    if rule.endpoint in PATIENT_OF:
        return PATIENT_OF[rule.endpoint](w)
    ids = ENDPOINT_IDS.get(rule.endpoint, {})
    if rule.endpoint.startswith("children.") and "patient_id" in ids:
        return ids["patient_id"](w)
    if "child_id" in ids:
        return ids["child_id"](w)
    if rule.arguments & {"child_id", "cr_number"} or rule.endpoint in CHILD_IN_BODY:
        return w.child_id
    return w.patient2.id if "patient_id" in ids else w.patient.id


class UnknownVariable(LookupError):
    pass


def url_for_rule(rule, w: World) -> str:
    values = {}
    for name in sorted(rule.arguments):
        source = ENDPOINT_IDS.get(rule.endpoint, {}).get(name) or IDS.get(name)
        if source is None:
            raise UnknownVariable(
                f"{rule.rule} ({rule.endpoint}) has the URL variable <{name}>, which the route walk does not know: "
                f"add it to IDS in tests/security/walk.py")
        values[name] = source(w)
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} from {values}"
    return built[1]


# ------------------------------------------------------------------ bodies

def _multipart_png(**extra) -> dict:
    return {"data": {**extra, "files": (io.BytesIO(png()), "scan.png")}, "content_type": "multipart/form-data"}


def _card_form(w: World, names) -> dict:
    values = {}
    for n in names:
        v = getattr(w.patient, n, None)
        values[n] = "" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
    values["version"] = str(w.patient.version)
    return {"data": values}


def _card_names():
    from emrs.patients import fields as F
    return F.CARD_NAMES


def _record_names():
    from emrs.patients import fields as F
    return F.RECORD_NAMES


TODAY = lambda: today_ist().isoformat()  # noqa: E731
PHQ9_RISK = {**{f"q{i}": 1 for i in range(1, 9)}, "q9": 1}  # total 9, item 9 positive
CHANGE_REASON = "Reviewed with the consultant"
LINES = [{"medicine": "Sertraline 50 mg", "dosage": "1-0-0", "duration": "1 Month"}]

BODIES: dict[str, Callable[[World], dict]] = {
    # patient reports: bulk by ids (API) and by today's registrations (the list page's form)
    "api.patients_reports_bulk": lambda w: {"json": {"format": "xlsx", "patient_ids": [w.patient.id]}},
    "reports.bulk": lambda w: {"data": {"date_from": today_ist().isoformat(), "date_to": today_ist().isoformat()}},
    # pages: patients
    "patients.new": lambda w: {"data": {"name": "Matrix New Patient", "age": "35", "sex": "M"}},
    "patients.card_edit": lambda w: _card_form(w, _card_names()),
    "patients.record_edit": lambda w: _card_form(w, _record_names()),
    "patients.assign": lambda w: {"data": {"assigned_doctor_id": str(w.users["resident"].id), "room_no": "M1"}},
    "patients.files_upload": lambda w: _multipart_png(),
    # pages: proforma, intake, prescriptions
    "clinical.proforma_new": lambda w: {"query_string": {"patient_id": w.patient.id},
                                        "data": {"visit_date": TODAY(), "diagnosis": FREE_TEXT}},
    "clinical.proforma_edit": lambda w: {"data": {"version": str(w.proforma.version), "visit_date": TODAY(),
                                                  "diagnosis": FREE_TEXT, "change_reason": CHANGE_REASON}},
    "intake.save_section": lambda w: {"data": {"version": str(w.intake.version), "history_narrative": FREE_TEXT}},
    "intake.open_for_patient": lambda w: {"data": {"patient_id": str(w.patient.id)}},
    "intake.file_store": lambda w: {"data": {"location": "Shelf 4"}},
    "intake.file_archive": lambda w: {"data": {"confirm": "yes"}},
    "intake.bulk_retrieve": lambda w: {"data": {"file_ids": [str(w.intake.id)]}},
    "intake.bulk_return": lambda w: {"data": {"file_ids": [str(w.intake.id)]}},
    "prescriptions.edit": lambda w: {"data": {"lines-0-medicine": "Sertraline 50 mg", "lines-0-dosage": "1-0-0",
                                              "advice": FREE_TEXT, "change_reason": CHANGE_REASON}},
    "prescriptions.check": lambda w: {"data": {"lines-0-medicine": "Sertraline 50 mg"}},
    "prescriptions.edit_followup": lambda w: {"data": {"lines-0-medicine": "Sertraline 50 mg", "lines-0-dosage": "1-0-0",
                                                       "advice": FREE_TEXT}},
    "prescriptions.check_followup": lambda w: {"data": {"lines-0-medicine": "Sertraline 50 mg"}},
    # pages: follow-up notes
    "followups.new": lambda w: {"query_string": {"patient_id": w.patient.id},
                                "data": {"clinical_assessment": FREE_TEXT}},
    "followups.amend": lambda w: {"data": {"version": str(w.followup.version), "amend_reason": CHANGE_REASON,
                                           "clinical_assessment": f"{FREE_TEXT} (amended on the page)"}},
    "followups.withdraw": lambda w: {"data": {"reason": "Written for the wrong patient"}},
    "drafts.save": lambda w: {"data": {"_draft_key": "proforma:new", "_draft_patient": str(w.patient.id),
                                       "diagnosis": FREE_TEXT}},
    # API: patients and visits
    "api.patients_search": lambda w: {"query_string": {"q": "Matrix"}},
    "fhir.patient_search": lambda w: {"query_string": {"identifier": w.patient.cr_no}},
    "fhir.encounter_search": lambda w: {"query_string": {"patient": w.patient.id}},
    "fhir.condition_search": lambda w: {"query_string": {"patient": w.patient.id}},
    "fhir.medication_request_search": lambda w: {"query_string": {"patient": w.patient.id}},
    "fhir.questionnaire_response_search": lambda w: {"query_string": {"patient": w.patient.id}},
    "dashboard.rating_patients": lambda w: {"query_string": {"figure": "open_risk"}},
    "fhir.observation_search": lambda w: {"query_string": {"patient": w.patient.id}},
    "drafts.banner": lambda w: {"query_string": {"_draft_key": "proforma:new", "_draft_patient": w.patient.id}},
    "drafts.discard": lambda w: {"data": {"_draft_key": "proforma:new", "_draft_patient": str(w.patient.id)}},
    "api.patients_create": lambda w: {"json": {"name": "Matrix Api Patient", "age": 30, "sex": "F"}},
    "api.patients_register_complete": lambda w: {"json": {"name": "Matrix Complete Patient", "age": 31, "sex": "M"}},
    "api.patient_cards_create": lambda w: {"json": {"name": "Matrix Card Patient", "age": 32, "sex": "F"}},
    "api.patients_update": lambda w: {"json": {"assigned_room": "R-9"}},
    "api.patient_cards_update": lambda w: {"json": {"age": 41}},
    "api.out_patient_records_update": lambda w: {"json": {"assigned_room": "R-8"}},
    "api.patients_assign": lambda w: {"json": {"patient_id": w.patient.id, "assigned_doctor_id": w.users["resident"].id,
                                               "room_no": "M1"}},
    "api.sessions_create": lambda w: {"json": {"patient_id": w.patient.id}},
    # API: files
    "api.patient_files_create": lambda w: _multipart_png(patient_id=str(w.patient.id)),
    "api.patients_files_create_alias": lambda w: _multipart_png(patient_id=str(w.patient.id)),
    "api.patients_files_upload": lambda w: _multipart_png(),
    "api.patient_files_update": lambda w: {"json": {"files_to_remove": [f"/api/patient-files/{w.patient.id}/download/"
                                                                        f"{w.target_file.id}"]}},
    "api.patients_files_update_alias": lambda w: {"json": {"files_to_remove": [w.target_file.stored_name]}},
    # API: proformas, intake, prescriptions
    "api.proformas_create": lambda w: {"json": {"patient_id": w.patient.id, "visit_date": TODAY(),
                                                "diagnosis": FREE_TEXT}},
    "api.proformas_update": lambda w: {"json": {"diagnosis": FREE_TEXT, "change_reason": CHANGE_REASON}},
    **{f"api.{p}_create": (lambda w: {"json": {"patient_id": w.patient.id, "history_narrative": FREE_TEXT}})
       for p in ("intake", "adl")},
    **{f"api.{p}_update": (lambda w: {"json": {"history_narrative": FREE_TEXT}}) for p in ("intake", "adl")},
    **{f"api.{p}_bulk_{m}": (lambda w: {"json": {"file_ids": [w.intake.id]}})
       for p in ("intake", "adl") for m in ("retrieve", "return")},
    "api.prescriptions_create": lambda w: {"json": {"clinical_proforma_id": w.proforma.id, "prescription": LINES,
                                                    "advice": FREE_TEXT, "change_reason": CHANGE_REASON}},
    "api.prescriptions_update": lambda w: {"json": {"prescription": LINES, "change_reason": CHANGE_REASON}},
    # child walk-in proforma: page and API
    "child_clinical.new": lambda w: {"query_string": {"patient_id": w.child.id},
                                     "data": {"presenting_complaints": FREE_TEXT, "reliability": "Good"}},
    "child_clinical.edit": lambda w: {"data": {"version": str(w.child_proforma.version),
                                               "presenting_complaints": FREE_TEXT, "change_reason": CHANGE_REASON}},
    "api.child_proformas_create": lambda w: {"json": {"child_patient_id": w.child.id,
                                                      "presenting_complaints": FREE_TEXT}},
    "api.child_proformas_update": lambda w: {"json": {"presenting_complaints": FREE_TEXT,
                                                      "change_reason": CHANGE_REASON}},
    "api.child_proformas_delete": lambda w: {"json": {"reason": "Written for the wrong child"}},
    # API: follow-up notes
    "api.followups_create": lambda w: {"json": {"patient_id": w.patient.id, "clinical_assessment": FREE_TEXT}},
    "api.followups_update": lambda w: {"json": {"clinical_assessment": FREE_TEXT, "amend_reason": CHANGE_REASON}},
    "api.followups_delete": lambda w: {"json": {"reason": "Written for the wrong patient"}},
    # CAP work-up (a child's intake record) and growth
    "cap.open_for_child": lambda w: {"data": {"patient_id": str(w.child_target.id)}},
    "cap.save_section": lambda w: {"data": {"version": str(w.cap.version), "gpe_height_length_cm": "129",
                                            "gpe_built": FREE_TEXT}},
    "api.cap_workup_create": lambda w: {"json": {"child_patient_id": w.child_target.id, "school_type": "Private",
                                                 "hpi_continued": FREE_TEXT}},
    "api.cap_workup_update": lambda w: {"json": {"hpi_continued": FREE_TEXT, "gpe_weight_kg": 26.5}},
    # API: reference lists
    "api.clinical_options_add": lambda w: {"json": {"label": "Matrix added option"}},
    "api.icd11_entities_list": lambda w: {"query_string": {"parent": w.icd11_local.parent_id}},
    "api.icd11_entities_create": lambda w: {"json": {"parent_id": w.icd11_local.parent_id,
                                                     "title": "Matrix local entry (API)"}},
    "api.icd11_entities_update": lambda w: {"json": {"title": "Matrix local ICD-11 entry", "code": None}},
    # pages: the ICD-11 tree's local additions (Admin)
    "clinical.icd11_local_new": lambda w: {"data": {"title": "Matrix local entry (page)", "code": ""}},
    "clinical.icd11_local_edit": lambda w: {"data": {"title": "Matrix local ICD-11 entry", "code": ""}},
    "clinical.icd11_local_active": lambda w: {"data": {"active": "0"}},
    "api.proforma_options_add": lambda w: {"json": {"label": "Matrix added option"}},
    # OPD rooms and a doctor's room today
    "api.rooms_create": lambda w: {"json": {"room_number": "Matrix-API", "doctor_capacity": 2}},
    "api.rooms_update": lambda w: {"json": {"description": "Matrix room", "doctor_capacity": 3}},
    "opd.room_new": lambda w: {"data": {"room_number": "Matrix-Page", "description": "", "doctor_capacity": "1"}},
    "opd.room_edit": lambda w: {"data": {"room_number": w.room.room_number, "description": "Matrix room",
                                         "doctor_capacity": "3"}},
    "opd.room_set_active": lambda w: {"data": {"active": "1"}},
    "opd.room_move_doctor": lambda w: {"data": {"room_number": w.room.room_number}},
    "api.users_rooms_select": lambda w: {"json": {"room_number": w.room.room_number}},
    "api.users_change_room": lambda w: {"json": {"new_room": w.room.room_number}},
    # referrals: the API refers the patient to the other resident; the page to the resident;
    # the bulk referral the patient to the faculty member (patient 2 is archived by then)
    "api.patients_refer": lambda w: {"json": {"to_doctor_id": w.other_user.id}},
    "opd.refer": lambda w: {"data": {"to_doctor_id": str(w.users["resident"].id), "reason": FREE_TEXT}},
    "api.patients_refer_bulk": lambda w: {"json": {"patient_ids": [w.patient.id],
                                                   "to_doctor_id": w.users["faculty"].id, "reason": FREE_TEXT}},
    "opd.referral_act": lambda w: {"data": {"action": "seen"}},
    "api.clinical_options_delete": lambda w: {"json": {"id": w.option.id}},
    "api.proforma_options_delete": lambda w: {"json": {"id": w.option.id}},
    # the OPD counter and queue
    "opd.counter_register": lambda w: {"data": {"name": "Matrix Counter Patient", "sex": "F", "age": "30",
                                                "assigned_room": w.room.room_number}},
    "opd.counter_requeue": lambda w: {"data": {"q": w.patient.cr_no, "room": w.room.room_number}},
    "opd.pick_room": lambda w: {"data": {"room_id": str(w.room.id)}},
    "opd.change_room": lambda w: {"data": {"new_room": w.room2.room_number}},
    "api.patients_change_room": lambda w: {"json": {"new_room": w.room2.room_number}},
    "opd.transfer": lambda w: {"data": {"target_doctor_id": str(w.users["faculty"].id)}},
    "api.patients_transfer": lambda w: {"json": {"target_doctor_id": w.users["faculty"].id}},
    "opd.claim": lambda w: {"data": {"doctor_id": str(w.users["resident"].id)}},
    "api.patients_add_to_my_list": lambda w: {"json": {"doctor_id": w.users["resident"].id}},
    # child patients
    "api.child_patient_register": lambda w: {"json": {"child_name": "Matrix Api Child", "mobile_no": "9876500003",
                                                      "age": 8, "head_education": "Senior Secondary"}},
    "api.child_patient_update": lambda w: {"json": {"head_education": "Graduate"}},
    "api.child_patient_add_to_today": lambda w: {"json": {"child_patient_id": w.child_id,
                                                          "assigned_room": w.room.room_number}},
    "api.child_patient_documents": lambda w: _multipart_png(),
    "children.new": lambda w: {"data": {"name": "Matrix Page Child", "contact_number": "9876500004", "age": "7"}},
    "children.edit": lambda w: {"data": {"name": "Matrix Child One", "contact_number": "9876500001", "age": "10",
                                         "version": str(_child_version(w))}},
    "children.move_to_adult": lambda w: {"data": {"confirm": "yes"}},
    # rating scales
    "api.instruments_score": lambda w: {"json": {"answers": {"q1": 1}}},
    "api.assessments_create": lambda w: {"json": {"instrument": "phq9", "answers": PHQ9_RISK}},
    "api.assessments_acknowledge": lambda w: {"json": {"action": "Safety plan made with the family"}},
    "api.assessments_delete": lambda w: {"json": {"reason": "Entered for the wrong patient"}},
    "assessments.new": lambda w: {"query_string": {"instrument": "phq9"}},
    "assessments.score": lambda w: {"data": {"instrument": "phq9", "a-q1": "1"}},
    "assessments.create": lambda w: {"data": {"instrument": "phq9", **{f"a-{k}": str(v) for k, v in PHQ9_RISK.items()}}},
    "assessments.acknowledge": lambda w: {"data": {"action": "Safety plan made with the family"}},
    "assessments.withdraw": lambda w: {"data": {"reason": "Entered for the wrong patient"}},
    "assessments.kiosk_start": lambda w: {"data": {"instrument": "phq9"}},
}


def _child_version(w: World) -> int:
    from emrs.patients.models import Patient
    return db.session.get(Patient, w.child_id).version


def request_kwargs(endpoint: str, method: str, w: World, api: bool) -> dict:
    spec = BODIES.get(endpoint)
    kw = dict(spec(w)) if spec else {}
    if method not in UNSAFE:
        kw.pop("data", None), kw.pop("json", None), kw.pop("content_type", None)
    elif not spec:
        kw = {"json": {}} if api else {"data": {}}
    return kw


# ------------------------------------------------------------------ state a route needs

def _open_visit(w: World):
    from emrs.patients.models import PatientVisit
    open_ = db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == w.patient.id, PatientVisit.visit_date == today_ist(),
        PatientVisit.visit_status.in_(("scheduled", "in_progress")))).first()
    if open_ is None:
        db.session.add(PatientVisit(patient_id=w.patient.id, visit_date=today_ist(), visit_type="follow_up",
                                    visit_status="scheduled", assigned_doctor_id=w.users["resident"].id))
        db.session.commit()


def _queued(status="scheduled", doctor=None, seated=()):
    """The world's visit as today's, in room M1's queue, with ``status`` and ``doctor`` (a
    role key or None); the patient's other visits of today cancelled; ``seated`` roles sit
    in M1 today."""
    def prepare(w: World):
        from emrs.opd.models import DoctorRoom
        from emrs.patients.models import PatientVisit
        for other in db.session.execute(select(PatientVisit).where(
                PatientVisit.patient_id == w.patient.id, PatientVisit.visit_date == today_ist(),
                PatientVisit.id != w.visit.id)).scalars():
            other.visit_status = "cancelled"
        visit = db.session.get(PatientVisit, w.visit.id)
        visit.visit_date, visit.visit_status = today_ist(), status
        visit.room_id, visit.room_no, visit.token_no = w.room.id, w.room.room_number, 1000 + visit.id
        visit.assigned_doctor_id = w.users[doctor].id if doctor else None
        for key in seated:
            seat = db.session.execute(select(DoctorRoom).where(DoctorRoom.user_id == w.users[key].id,
                                                               DoctorRoom.day == today_ist())).scalar_one_or_none()
            if seat is None:
                db.session.add(DoctorRoom(user_id=w.users[key].id, room_id=w.room.id, day=today_ist()))
            else:
                seat.room_id = w.room.id
        db.session.commit()
    return prepare


def _fresh_file(w: World):
    """A new file uploaded by the welfare officer, for a route that deletes one."""
    from emrs.patients.models import PatientFile
    from emrs.patients import files
    from flask import current_app
    with current_app.test_request_context():
        row = files.upload(db.session.get(type(w.patient), w.patient.id),
                           [FileStorage(io.BytesIO(png()), "scan.png")], w.users["pwo"])[0]
        row_id = row.id
    w.target_file = db.session.get(PatientFile, row_id)


_counter = {"option": 0}


def _fresh_option(w: World):
    """A new user-added option, for a route that deletes one for good."""
    from emrs.clinical import options
    from emrs.clinical.models import ClinicalOption
    from flask import current_app
    with current_app.test_request_context():
        _counter["option"] += 1
        row = options.add("mood", f"Matrix option {_counter['option']}", w.users["admin"])
        row_id = row.id
    w.option = db.session.get(ClinicalOption, row_id)


def _fresh_icd11_local(w: World):
    """A new local ICD-11 entry, for a route that deactivates one."""
    from emrs.clinical import icd11
    from emrs.clinical.models import Icd11Entity
    from flask import current_app
    with current_app.test_request_context():
        row = icd11.add_local(w.icd11_local.parent_id, "Matrix entry to deactivate", None, w.users["admin"])
        row_id = row.id
    w.icd11_target = db.session.get(Icd11Entity, row_id)


def _file_status(status: str):
    def prepare(w: World):
        record = db.session.get(type(w.intake), w.intake.id)
        record.file_status, record.is_active = status, True
        db.session.commit()
        w.intake = record
    return prepare


def _withdrawn(what: str):
    """The resident's proforma or prescription, withdrawn, for a route that restores it."""
    def prepare(w: World):
        from emrs.models_base import utcnow
        row = db.session.get(type(w.proforma) if what == "proforma" else type(w.rx),
                             w.proforma.id if what == "proforma" else w.rx.id)
        row.withdrawn_at, row.withdrawn_by = utcnow(), w.users["admin"].id
        if what == "proforma":
            row.is_active = False
        db.session.commit()
    return prepare


def _purgeable_file(w: World):
    """A deleted file whose retention period is over, for the purge route."""
    import datetime as dt
    from flask import current_app
    _fresh_file(w)
    w.target_file.is_deleted = True
    w.target_file.deleted_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(
        days=current_app.config["FILE_RETENTION_DAYS"] + 1)
    db.session.commit()


def _fresh_room(w: World):
    """A new room with no history, for a route that deletes one."""
    from emrs.opd import rooms
    from emrs.opd.models import Room
    from flask import current_app
    with current_app.test_request_context():
        _counter["room"] = _counter.get("room", 0) + 1
        row_id = rooms.create_room({"room_number": f"Matrix-D{_counter['room']}"}, w.users["admin"]).id
    w.room_target = db.session.get(Room, row_id)


def _open_referral(w: World):
    """An open referral of the patient to the faculty member (sent by the resident unless one
    is open already), for a route that marks, completes or revokes one."""
    from emrs.opd import referrals
    from flask import current_app
    row = referrals.open_referral(w.patient.id, w.users["faculty"].id)
    if row is None:
        with current_app.test_request_context():
            row = referrals.refer(w.patient.id, w.users["faculty"].id, None, w.users["resident"])
    w.referral = db.session.get(type(row), row.id)
def _assessment_as_made(w: World):
    """The resident's PHQ-9 as written: active, unconfirmed, its risk item open."""
    row = db.session.get(type(w.assessment), w.assessment.id)
    row.is_active, row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason = True, None, None, None
    row.risk_status, row.risk_ack_by, row.risk_ack_at, row.risk_action = "open", None, None, None
    row.confirmed_by, row.confirmed_at = None, None
    db.session.commit()


def _followup_active(w: World):
    """The resident's follow-up note, active again, for a route that withdraws it."""
    row = db.session.get(type(w.followup), w.followup.id)
    row.is_active, row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason = True, None, None, None
    db.session.commit()


def _fresh_child(w: World):
    """A new child with no work-up, for a route that opens one."""
    w.child_target = _new_child("Matrix Child New")


def _cap_stored(w: World):
    """The child's CAP work-up, active and stored, for the route that withdraws (archives) it."""
    record = db.session.get(type(w.cap), w.cap.id)
    record.file_status, record.is_active = "stored", True
    db.session.commit()
    w.cap = record


def _patient2_active(w: World):
    patient = db.session.get(type(w.patient), w.patient2.id)
    patient.is_active = True
    db.session.commit()


def _child2_a_child(w: World):
    """The second child, a child again (aged 18, active), for a route that archives or moves it."""
    from emrs.patients.models import Patient
    child = db.session.get(Patient, w.child2_id)
    child.clinic, child.is_active, child.age, child.adult_since = "child", True, 18, None
    db.session.commit()


def _child_proforma_active(w: World):
    """The resident's child proforma, active again, for a route that withdraws it."""
    row = db.session.get(type(w.child_proforma), w.child_proforma.id)
    row.is_active, row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason = True, None, None, None
    db.session.commit()


PREPARE: dict[str, Callable[[World], None]] = {
    "api.child_patient_delete": _child2_a_child,
    "api.child_patient_move_to_adult": _child2_a_child,
    "children.move_to_adult": _child2_a_child,
    "api.child_proformas_delete": _child_proforma_active,
    "cap.open_for_child": _fresh_child,
    "api.cap_workup_create": _fresh_child,
    "api.cap_workup_delete": _cap_stored,
    "api.followups_delete": _followup_active,
    "followups.withdraw": _followup_active,
    **{e: _assessment_as_made for e in ("api.assessments_acknowledge", "assessments.acknowledge",
                                         "api.assessments_confirm", "assessments.confirm",
                                         "api.assessments_delete", "assessments.withdraw")},
    "api.proformas_restore": _withdrawn("proforma"),
    "clinical.withdrawn_restore": _withdrawn("proforma"),
    "api.prescriptions_restore": _withdrawn("prescription"),
    "clinical.withdrawn_purge": _purgeable_file,
    "patients.archive": _patient2_active,
    "api.patients_delete": _patient2_active,
    "patients.complete_visit": _open_visit,
    "opd.start": _queued(),
    "opd.change_room": _queued(),
    "api.patients_change_room": _queued(),
    "opd.transfer": _queued(doctor="resident", seated=("resident", "faculty")),
    "api.patients_transfer": _queued(doctor="resident", seated=("resident", "faculty")),
    "opd.claim": _queued(),
    "api.patients_add_to_my_list": _queued(),
    "opd.complete": _queued(),
    "opd.reopen": _queued("completed"),
    "api.patients_visits_reopen": _queued("completed"),
    "api.patients_visits_complete": _open_visit,
    "api.sessions_complete": _open_visit,
    "patients.file_delete": _fresh_file,
    "api.patient_files_delete": _fresh_file,
    "api.patients_files_delete_alias": _fresh_file,
    "api.patients_files_remove": _fresh_file,
    "api.patient_files_update": _fresh_file,
    "api.patients_files_update_alias": _fresh_file,
    "api.clinical_options_delete": _fresh_option,
    "api.proforma_options_delete": _fresh_option,
    "clinical.icd11_local_active": _fresh_icd11_local,
    "api.icd11_entities_delete": _fresh_icd11_local,
    "api.rooms_delete": _fresh_room,
    "opd.room_delete": _fresh_room,
    "api.referrals_seen": _open_referral,
    "api.referrals_complete": _open_referral,
    "api.referrals_revoke": _open_referral,
    "opd.referral_act": _open_referral,
    "intake.file_store": _file_status("created"),
    "intake.file_retrieve": _file_status("stored"),
    "intake.bulk_retrieve": _file_status("stored"),
    "intake.file_return": _file_status("retrieved"),
    "intake.bulk_return": _file_status("retrieved"),
    "intake.file_archive": _file_status("stored"),
    **{f"api.{p}_retrieve": _file_status("stored") for p in ("intake", "adl")},
    **{f"api.{p}_bulk_retrieve": _file_status("stored") for p in ("intake", "adl")},
    **{f"api.{p}_return": _file_status("retrieved") for p in ("intake", "adl")},
    **{f"api.{p}_bulk_return": _file_status("retrieved") for p in ("intake", "adl")},
    **{f"api.{p}_{m}": _file_status("stored") for p in ("intake", "adl") for m in ("archive", "delete")},
}


# ------------------------------------------------------------------ order

# Run after every other route: they remove or retire a row the rest of the walk names.
DESTRUCTIVE = [
    "api.assessments_delete",
    "assessments.withdraw",
    "api.cap_workup_delete",
    "api.followups_delete",
    "followups.withdraw",
    "api.prescriptions_delete",
    "api.proformas_delete",
    "api.child_proformas_delete",
    "api.clinical_options_delete",
    "api.proforma_options_delete",
    "prescriptions.formulary_retire",
    "prescriptions.formulary_restore",
    "api.medicines_delete",
    "api.users_delete",
    # They withdraw the resident's proforma or prescription first (PREPARE), then restore it.
    "api.proformas_restore",
    "api.prescriptions_restore",
    "clinical.withdrawn_restore",
]
# Run last of all: they end the caller's own session (API token, then browser session).
# The tablet hand-over signs the staff member out of the browser it runs in: the walk signs
# that client in again after it (RELOGIN).
SESSION_ENDING = ["assessments.kiosk_start", "api.session_logout", "auth.end_other_sessions", "auth.logout"]
RELOGIN = {"assessments.kiosk_start"}


def route_pairs(app) -> list:
    """Every (rule, method) of the app except HEAD/OPTIONS, in walk order."""
    pairs = [(rule, method) for rule in app.url_map.iter_rules()
             for method in sorted(rule.methods - SKIPPED_METHODS)]
    last = DESTRUCTIVE + SESSION_ENDING

    def key(pair):
        rule, method = pair
        rank = last.index(rule.endpoint) + 1 if rule.endpoint in last else 0
        return rank, rule.rule, method
    return sorted(pairs, key=key)


_API_RULES: dict = {}


def is_api_rule(app, url: str, method: str) -> bool:
    """Does the guard treat this request as an API call (bearer token; JSON envelopes on
    /api, OperationOutcome on /fhir)?"""
    from emrs.doors import is_api_or_fhir
    key = (id(app), app.url_map.bind("localhost").match(url, method=method, return_rule=True)[0].rule, method)
    if key not in _API_RULES:
        with app.test_request_context(url, method=method):
            _API_RULES[key] = is_api_or_fhir()
    return _API_RULES[key]


class ViewSpy:
    """Records which view functions ran, to tell the guard's refusal from the view's."""

    def __init__(self, app, monkeypatch):
        self.called: list[str] = []
        for endpoint, view in list(app.view_functions.items()):
            monkeypatch.setitem(app.view_functions, endpoint, self._wrap(endpoint, view))
        # GET/HEAD /health is answered before Flask (emrs.health.HealthFastPath); the fast path
        # and the view both build the answer with health.answer.
        from emrs import health
        monkeypatch.setattr(health, "answer", self._wrap("health.health", health.answer))

    def _wrap(self, endpoint, view):
        @functools.wraps(view)  # same name: rate limits keyed on the view still apply
        def wrapper(*args, **kwargs):
            self.called.append(endpoint)
            return view(*args, **kwargs)
        return wrapper

    def ran(self, endpoint: str, since: int) -> bool:
        return endpoint in self.called[since:]


# ------------------------------------------------------------------ who may do what

ROLES = {"admin": ADMIN, "faculty": FACULTY, "resident": RESIDENT, "pwo": PWO}


def permitted(endpoint: str, principal: str) -> bool:
    """What the permission map says (principal: "anonymous" or a role key)."""
    rule = PERMISSIONS[endpoint]
    if rule in (PUBLIC, AUTH):
        return rule == PUBLIC or principal != "anonymous"
    return principal != "anonymous" and role_matches(ROLES[principal], rule)


# ------------------------------------------------------------------ record-level rules
# (endpoint, role) -> (reason, check(resp, world, page client) -> problem or None): a
# role the permission map lets in, refused by a rule of the domain on this record.

def _api_refused(message):
    def check(resp, w, client):
        body = resp.get_json(silent=True)
        if resp.status_code != 403 or body != {"success": False, "message": message}:
            return f"expected 403 {message!r}, got {resp.status_code} {body}"
    return check


def _file_kept(check):
    def wrapped(resp, w, client):
        from emrs.patients.models import PatientFile
        problem = check(resp, w, client)
        row = db.session.get(PatientFile, w.target_file.id)
        if row.is_deleted:
            return (problem or "") + " and the file was deleted"
        return problem
    return wrapped


def _page_file_refused(resp, w, client):
    expected = f"/patients/{w.patient.id}/files"
    if resp.status_code != 302 or not resp.headers["Location"].endswith(expected):
        return f"expected a redirect to {expected}, got {resp.status_code} {resp.headers.get('Location')}"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    if "You do not have permission to edit/delete these files" not in page:
        return "the files page does not show the refusal"


from emrs.patients.files import NO_PERMISSION  # noqa: E402

PROFORMA_OWN = "a welfare officer reads, changes and withdraws only the visit stubs they opened; this proforma " \
               "was written by the resident (auth/records.py)"
PWO_STUB = "a welfare officer's proforma is a visit stub: no clinical content (auth/records.py STUB_FIELDS)"
WORKUP_CLINICAL = "the work-up's clinical sections are written and withdrawn by clinicians only; a welfare officer " \
                  "moves the paper file (auth/records.py)"
ADMIN_NOT_AUTHOR = "an administrator withdraws and restores clinical records but amends only those they wrote; " \
                   "this one is the resident's (auth/records.py)"
FILES_OWN = "a doctor may delete only the files they uploaded; this one was uploaded by the welfare officer " \
            "(roles-and-workflow.md §3, patients.files.can_delete)"
SECOND_FACTOR = "only an administrator may turn the login code off (auth.service.set_second_factor)"
REFERRAL_TARGET = ("a referral is marked seen or completed by the doctor it was sent to (or an Admin); this one was "
                   "sent by the resident to the faculty member (opd.referrals)")
REFERRAL_SENDER = ("a referral is revoked by the doctor who sent it (or an Admin); this one was sent by the "
                   "resident (opd.referrals)")
TRANSFER_OWN = "only the patient's assigned doctor (or an administrator) transfers them to a colleague in the " \
               "room; this patient is the resident's (opd/queue.py transfer)"
_TRANSFER_REFUSED = "Only the patient's assigned doctor or an administrator can transfer this patient"


def _still_the_residents(check):
    def wrapped(resp, w, client):
        from emrs.patients.models import PatientVisit
        problem = check(resp, w, client)
        if db.session.get(PatientVisit, w.visit.id).assigned_doctor_id != w.users["resident"].id:
            return (problem or "") + " and the patient was transferred"
        return problem
    return wrapped


def _today_refused(message):
    def check(resp, w, client):
        if resp.status_code != 302 or not resp.headers["Location"].endswith("/patients/today"):
            return f"expected a redirect to /patients/today, got {resp.status_code} {resp.headers.get('Location')}"
        from html import unescape
        if message not in unescape(client.get(resp.headers["Location"]).get_data(as_text=True)):
            return "Today's Patients does not show the reason"
    return check

def _unchanged(check, what: str):
    """The refusal, and the resident's record is still the resident's (no new version)."""
    def wrapped(resp, w, client):
        from emrs.clinical.models import ClinicalProforma
        from emrs.prescriptions.models import Prescription
        problem = check(resp, w, client)
        row = db.session.get(ClinicalProforma if what == "proforma" else Prescription,
                             w.proforma.id if what == "proforma" else w.rx.id)
        author = row.author_id if what == "proforma" else row.signer_id
        if author != w.users["resident"].id or (what == "proforma" and not row.is_active):
            return (problem or "") + f" and the {what} was changed"
        return problem
    return wrapped


def _page_sent_back(endpoint: str, message: str):
    """A page refusal of a record-level rule: back to the record's read-only page, with the reason."""
    def check(resp, w, client):
        expected = (f"/clinical/proformas/{w.proforma.id}" if endpoint == "clinical.proforma_edit"
                    else f"/prescriptions/{w.rx.id}")
        if resp.status_code != 302 or not resp.headers["Location"].endswith(expected):
            return f"expected a redirect to {expected}, got {resp.status_code} {resp.headers.get('Location')}"
        from html import unescape
        if message not in unescape(client.get(resp.headers["Location"]).get_data(as_text=True)):
            return "the record's page does not show the reason"
    return check


from emrs.auth import records as _rules  # noqa: E402


def _msg(act, kind):
    return _rules.message(None, act, kind)

_PWO_READ = _msg(_rules.READ, _rules.PROFORMA)
_WORKUP_WRITE = _msg(_rules.AMEND, _rules.WORKUP)
_NOT_YOURS = {k: _msg(_rules.AMEND, k) for k in (_rules.PROFORMA, _rules.PRESCRIPTION)}

BULK_SCOPE = ("bulk report export is for department-wide list scope; the resident of the walk is a Junior "
              "Resident (own and room's patients)")
_BULK_REFUSED = ("Bulk export covers the whole department; a Junior Resident's lists cover their own and their "
                 "room's patients. Export one patient at a time from the patient's page, or ask a Senior "
                 "Resident or Faculty member.")
def _followup_unchanged(check):
    """The refusal, and the resident's follow-up note is still theirs (no new version)."""
    def wrapped(resp, w, client):
        from emrs.followups.models import FollowUp
        problem = check(resp, w, client)
        row = db.session.get(FollowUp, w.followup.id)
        if row.author_id != w.users["resident"].id:
            return (problem or "") + " and the follow-up note was changed"
        return problem
    return wrapped


def _followup_sent_back(message: str):
    def check(resp, w, client):
        expected = f"/follow-ups/{w.followup.id}"
        if resp.status_code != 302 or not resp.headers["Location"].endswith(expected):
            return f"expected a redirect to {expected}, got {resp.status_code} {resp.headers.get('Location')}"
        from html import unescape
        if message not in unescape(client.get(resp.headers["Location"]).get_data(as_text=True)):
            return "the follow-up's page does not show the reason"
    return check


_FOLLOWUP_NOT_YOURS = _msg(_rules.AMEND, _rules.FOLLOWUP)


def _child_unchanged(check):
    """The refusal, and the resident's child proforma is still theirs and active (no new version)."""
    def wrapped(resp, w, client):
        from emrs.clinical.models import ClinicalProforma
        problem = check(resp, w, client)
        row = db.session.get(ClinicalProforma, w.child_proforma.id)
        if row.author_id != w.users["resident"].id or not row.is_active:
            return (problem or "") + " and the child proforma was changed"
        return problem
    return wrapped


def _child_sent_back(message: str):
    def check(resp, w, client):
        expected = f"/clinical/child/{w.child_proforma.id}"
        if resp.status_code != 302 or not resp.headers["Location"].endswith(expected):
            return f"expected a redirect to {expected}, got {resp.status_code} {resp.headers.get('Location')}"
        from html import unescape
        if message not in unescape(client.get(resp.headers["Location"]).get_data(as_text=True)):
            return "the child proforma's page does not show the reason"
    return check

RECORD_LEVEL: dict[tuple[str, str], tuple[str, object]] = {
    # the child walk-in proforma: the adult proforma's record rules
    ("api.child_proformas_get", "pwo"): (PROFORMA_OWN, _api_refused(_PWO_READ)),
    ("api.child_proformas_update", "admin"): (ADMIN_NOT_AUTHOR, _child_unchanged(_api_refused(
        _NOT_YOURS[_rules.PROFORMA]))),
    ("child_clinical.edit", "admin"): (ADMIN_NOT_AUTHOR, _child_unchanged(_child_sent_back(
        _NOT_YOURS[_rules.PROFORMA]))),
    ("api.followups_update", "admin"): (ADMIN_NOT_AUTHOR, _followup_unchanged(_api_refused(_FOLLOWUP_NOT_YOURS))),
    ("followups.amend", "admin"): (ADMIN_NOT_AUTHOR, _followup_unchanged(_followup_sent_back(_FOLLOWUP_NOT_YOURS))),
    ("api.proformas_update", "pwo"): (PROFORMA_OWN, _unchanged(_api_refused(_PWO_READ), "proforma")),
    ("api.proformas_delete", "pwo"): (PROFORMA_OWN, _unchanged(_api_refused(_PWO_READ), "proforma")),
    ("api.proformas_get", "pwo"): (PROFORMA_OWN, _api_refused(_PWO_READ)),
    ("api.proformas_versions", "pwo"): (PROFORMA_OWN, _api_refused(_PWO_READ)),
    ("api.proformas_create", "pwo"): (PWO_STUB, _api_refused(
        "A welfare officer opens the visit's proforma; its clinical content, the decision and prescriptions are "
        "written by a doctor. Not allowed here: diagnosis")),
    **{(f"api.{p}_{act}", "pwo"): (WORKUP_CLINICAL, _api_refused(
        _WORKUP_WRITE if act != "delete" else _msg(_rules.WITHDRAW, _rules.WORKUP)))
       for p in ("intake", "adl") for act in ("create", "update", "delete")},
    ("api.proformas_update", "admin"): (ADMIN_NOT_AUTHOR, _unchanged(_api_refused(
        _NOT_YOURS[_rules.PROFORMA]), "proforma")),
    ("api.prescriptions_create", "admin"): (ADMIN_NOT_AUTHOR, _unchanged(_api_refused(
        _NOT_YOURS[_rules.PRESCRIPTION]), "prescription")),
    ("api.prescriptions_update", "admin"): (ADMIN_NOT_AUTHOR, _unchanged(_api_refused(
        _NOT_YOURS[_rules.PRESCRIPTION]), "prescription")),
    ("clinical.proforma_edit", "admin"): (ADMIN_NOT_AUTHOR, _unchanged(_page_sent_back(
        "clinical.proforma_edit", _NOT_YOURS[_rules.PROFORMA]), "proforma")),
    ("prescriptions.edit", "admin"): (ADMIN_NOT_AUTHOR, _unchanged(_page_sent_back(
        "prescriptions.edit", _NOT_YOURS[_rules.PRESCRIPTION]), "prescription")),
    **{(endpoint, role): (FILES_OWN, _file_kept(_api_refused(NO_PERMISSION)))
       for endpoint in ("api.patient_files_delete", "api.patients_files_delete_alias", "api.patients_files_remove",
                        "api.patient_files_update", "api.patients_files_update_alias")
       for role in ("faculty", "resident")},
    **{("patients.file_delete", role): (FILES_OWN, _file_kept(_page_file_refused)) for role in ("faculty", "resident")},
    ("api.referrals_seen", "resident"): (REFERRAL_TARGET, _api_refused(
        "Only the doctor the patient was referred to (or an Admin) can mark this referral seen")),
    ("api.referrals_complete", "resident"): (REFERRAL_TARGET, _api_refused(
        "Only the doctor the patient was referred to (or an Admin) can mark this referral completed")),
    ("api.referrals_revoke", "faculty"): (REFERRAL_SENDER, _api_refused(
        "Only the doctor who referred the patient (or an Admin) can revoke this referral")),
    ("api.patients_reports_bulk", "resident"): (BULK_SCOPE, _api_refused(_BULK_REFUSED)),
    ("api.patients_transfer", "faculty"): (TRANSFER_OWN, _still_the_residents(_api_refused(_TRANSFER_REFUSED))),
    ("opd.transfer", "faculty"): (TRANSFER_OWN, _still_the_residents(_today_refused(_TRANSFER_REFUSED))),
    **{("api.users_disable_2fa", role): (SECOND_FACTOR, _api_refused(
        "Only an administrator can turn off the second factor for an account."))
       for role in ("faculty", "resident", "pwo")},
}


