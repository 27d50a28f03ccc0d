"""Audit completeness: every route that reads or writes a patient's data writes an
audit row naming that patient and the user who asked, and no audit row carries the
clinical free text that was sent.

A (route, method) touches patient data when its URL names a patient's record (one of
PATIENT_VARIABLES) or when it is listed in PATIENT_IN_BODY (the patient comes in the body
or query, or is created). Every other route must be listed in NOT_PATIENT with the
reason; a route in neither table fails, so a new route is classified the day it exists.
The same walk as the route matrix (walk.py) is used, with a role the map permits.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.patients.models import Patient

from ..conftest import api_login, browser_login
from . import walk

PATIENT_VARIABLES = {"patient_id", "visit_id", "file_id", "file_path", "file_ref", "proforma_id", "record_id",
                     "rx_id", "cr_no", "psy_no", "adl_no", "followup_id", "child_id", "cr_number", "cap_id",
                     "child_patient_id", "assessment_id"}
# Routes of the child walk-in proforma: their patient is the world's child.
CHILD_ROUTES = ("child_clinical.", "api.child_proformas_")

NEW = "a patient created by the request"
PATIENT_IN_BODY: dict[tuple[str, str], str] = {
    ("patients.new", "POST"): NEW,
    ("api.patients_create", "POST"): NEW,
    ("api.patients_register_complete", "POST"): NEW,
    ("api.patient_cards_create", "POST"): NEW,
    ("opd.counter_register", "POST"): NEW,
    ("api.child_patient_register", "POST"): NEW,
    ("children.new", "POST"): NEW,
    **{key: "patient" for key in [
        ("clinical.proforma_new", "GET"), ("clinical.proforma_new", "POST"),
        ("followups.new", "GET"), ("followups.new", "POST"), ("api.followups_create", "POST"),
        ("intake.open_for_patient", "POST"), ("cap.open_for_child", "POST"), ("api.cap_workup_create", "POST"),
        ("intake.bulk_retrieve", "POST"), ("intake.bulk_return", "POST"),
        ("api.patients_assign", "POST"), ("api.sessions_create", "POST"),
        ("api.patients_reports_bulk", "POST"), ("reports.bulk", "POST"), ("opd.counter_requeue", "POST"),
        ("api.patient_files_create", "POST"), ("api.patients_files_create_alias", "POST"),
        ("api.proformas_create", "POST"), ("api.prescriptions_create", "POST"),
        ("api.intake_create", "POST"), ("api.adl_create", "POST"),
        ("api.intake_bulk_retrieve", "POST"), ("api.intake_bulk_return", "POST"),
        ("api.adl_bulk_retrieve", "POST"), ("api.adl_bulk_return", "POST"),
        ("fhir.patient_search", "GET"), ("fhir.encounter_search", "GET"), ("fhir.condition_search", "GET"),
        ("fhir.medication_request_search", "GET"), ("fhir.encounter_read", "GET"), ("fhir.condition_read", "GET"),
        ("fhir.medication_request_read", "GET"), ("fhir.questionnaire_response_search", "GET"),
        ("fhir.questionnaire_response_read", "GET"), ("fhir.observation_search", "GET"), ("fhir.observation_read", "GET"),
        # referrals: the patient of the referral (and of the bulk referral's list)
        ("api.patients_refer_bulk", "POST"), ("api.referrals_seen", "POST"), ("api.referrals_complete", "POST"),
        ("api.referrals_revoke", "POST"), ("opd.referral_act", "POST"),
        ("api.child_patient_add_to_today", "POST"),
        # the child walk-in proforma: the child named in the query or body
        ("child_clinical.new", "GET"), ("child_clinical.new", "POST"), ("api.child_proformas_create", "POST"),
    ]},
}

# A write is audited with its own action; these suffixes mark reads.
READ_ACTIONS = ("_view", "_lookup", "_form_open", "_download")
# Unsafe methods that only open an existing record (one intake record per patient).
OPENS = {("intake.open_for_patient", "POST")}

ACCOUNT = "sign-in, sessions, own account and user administration: no patient data"
REFERENCE = "reference lists (option groups, ICD-11, formulary): no patient data"
LISTS = ("lists, search and statistics over many patients (identifiers or counts), not one patient's record; "
         "opening any one record from them is audited, and the list export is audited as patient_export")
DRAFTS = ("a draft is the signed-in user's own unsaved typing, shown only to them; the record is audited when "
          "its form opens and when it is saved, and discarding a draft is audited")
NOT_PATIENT_GROUPS: dict[str, list] = {
    ACCOUNT: ["api.index", "health.health", "fhir.metadata", "static", "api.session_activity", "api.session_info",
              "api.session_logout", "api.session_refresh", "api.users_activate", "api.users_change_password",
              "api.users_deactivate", "api.users_delete", "api.users_disable_2fa", "api.users_doctors",
              "api.users_enable_2fa", "api.users_forgot_password", "api.users_get", "api.users_list",
              "api.users_login", "api.users_profile", "api.users_profile_update", "api.users_register",
              "api.users_resend_login_otp", "api.users_reset_password", "api.users_stats", "api.users_unlock", "api.users_update",
              "api.users_verify_login_otp", "api.users_verify_otp", "auth.change_password",
              "auth.end_other_sessions", "auth.forgot_password", "auth.forgot_verify", "auth.login",
              "auth.login_otp", "auth.logout", "auth.profile", "auth.resend_otp", "auth.reset_password",
              "auth.totp_remove", "auth.totp_setup", "auth.user_edit", "auth.user_end_sessions", "auth.user_new",
              "auth.user_set_active", "auth.user_set_otp", "auth.user_unlock", "auth.users",
              "api.users_resend_invitation", "api.users_setup_password", "auth.setup_password",
              "auth.user_resend_invitation"],
    REFERENCE: ["api.clinical_options_add", "api.clinical_options_all", "api.clinical_options_delete",
                "api.clinical_options_get", "api.proforma_options_add", "api.proforma_options_all",
                "api.proforma_options_delete", "api.proforma_options_get", "api.icd_search", "clinical.icd_search",
                "clinical.options", "clinical.options_add", "clinical.options_move", "clinical.options_restore",
                "clinical.options_retire", "api.medicines_create", "api.medicines_delete", "api.medicines_get",
                "api.medicines_list", "api.medicines_search", "prescriptions.formulary",
                "prescriptions.formulary_add", "prescriptions.formulary_restore", "prescriptions.formulary_retire",
                "prescriptions.medicine_search", "clinical.icd11_browse", "clinical.icd11_children",
                "clinical.icd11_local_new", "clinical.icd11_local_edit", "clinical.icd11_local_active",
                "api.icd11_entities_list", "api.icd11_entities_get", "api.icd11_entities_create",
                "api.icd11_entities_update", "api.icd11_entities_delete"],
    LISTS: ["api.patients_list", "api.patients_search", "api.patient_cards_list", "api.out_patient_records_list",
            "api.patients_stats", "api.patients_age_distribution", "api.patient_files_stats", "api.proformas_list",
            "api.proformas_complex", "api.proformas_mine", "api.proformas_stats", "api.proformas_decision_stats",
            "api.proformas_visit_trends", "api.prescriptions_list", "api.intake_list", "api.intake_active",
            "api.intake_to_retrieve", "api.intake_stats", "api.intake_status_stats", "api.adl_list",
            "api.adl_active", "api.adl_to_retrieve", "api.adl_stats", "api.adl_status_stats", "patients.index",
            "patients.quick_search", "patients.check_duplicates", "opd.today", "opd.today_list",
            "api.patients_by_room", "patients.stats",
            "patients.export", "clinical.proformas", "clinical.proforma_stats", "clinical.withdrawn", "intake.index",
            "intake.record_room", "intake.stats", "dashboard.index", "dashboard.calendar", "api.dashboard",
            "api.patients_registrations_by_date", "api.patients_by_date", "api.referrals_list", "opd.referrals", "api.child_proformas_list",
            "dashboard.rating_patients"],
    "OPD rooms and which doctor sits in which room today: no patient data (a room's patients are listed, and "
    "audited, by the queue)": ["opd.rooms", "opd.room_new", "opd.room_edit", "opd.room_set_active",
                               "opd.room_delete", "opd.room_move_doctor", "api.rooms_list", "api.rooms_get",
                               "api.rooms_create", "api.rooms_update", "api.rooms_delete",
                               "api.users_rooms_available", "api.users_rooms_my_room", "api.users_rooms_select",
                               "api.users_rooms_clear", "api.users_change_room"],
    "the API's own description (OpenAPI document, docs page, FHIR CapabilityStatement): no record data": [
        "api.openapi", "api.docs"],
    "rating-scale definitions, and the live score of answers being typed (nothing stored, no patient named)": [
        "api.instruments_list", "api.instruments_get", "api.instruments_score"],
    "the live score fragment of the rating-scale form, fired on every answer while the form is open; opening the "
    "form (assessment_form_open) and saving (assessment_create) are audited": [("assessments.score", "POST")],
    "the kiosk answers only the browser's kiosk session (one patient, one scale, started by staff: kiosk_start); "
    "without one, as in this walk, it shows \"hand the tablet back\"; a submission is audited as assessment_create "
    "and kiosk_end (tests/assessments)": ["assessments.kiosk", "assessments.kiosk_submit", "assessments.kiosk_end"],
    "rating-scale instrument definitions as FHIR Questionnaires (items, options, licence): no patient data": [
        "fhir.questionnaire_search", "fhir.questionnaire_read"],
    DRAFTS: ["drafts.index", "drafts.banner", "drafts.save", "drafts.discard"],
    "the audit trail itself (who did what to which record, never clinical content), for the administrator; "
    "its CSV export is audited (audit_export)": ["audit.index", "audit.patient", "audit.user", "audit.export"],
    "the empty registration form (the POST that registers is audited)": [("patients.new", "GET"),
                                                                        ("children.new", "GET")],
    "the counter's empty forms and room list (the registration, the re-queue and a search are audited)": [
        "opd.counter"],
    "a doctor's seat for the day (doctor_rooms, audited as room_select); each waiting patient it gives them is "
    "audited as visit_route": ["opd.pick_room"],
    "saves the doctor's own prescription template (medicine lines); the proforma id only says which editor to "
    "return to": [("prescriptions.save_template", "POST")],
    "live drug-safety warnings for the lines being typed, fired on every change while the prescription editor "
    "is open; opening the editor (prescription_form_open) and saving are audited": [("prescriptions.check", "POST"),
                                                                                  ("prescriptions.check_followup",
                                                                                   "POST")],
}
NOT_PATIENT: dict = {}
for _reason, _items in NOT_PATIENT_GROUPS.items():
    for _item in _items:
        NOT_PATIENT[_item] = _reason


def exemption(endpoint: str, method: str) -> str | None:
    return NOT_PATIENT.get((endpoint, method)) or NOT_PATIENT.get(endpoint)


def classify(rule, method: str) -> str | None:
    """'patient' (URL), a PATIENT_IN_BODY value, 'exempt', or None (unclassified)."""
    if exemption(rule.endpoint, method):
        return "exempt"
    if (rule.endpoint, method) in PATIENT_IN_BODY:
        return PATIENT_IN_BODY[(rule.endpoint, method)]
    if rule.arguments & PATIENT_VARIABLES:
        return "patient"
    return None


def test_every_route_is_classified(app):
    unclassified = sorted(f"{m} {r.rule} ({r.endpoint})" for r, m in walk.route_pairs(app) if classify(r, m) is None)
    assert unclassified == [], (
        "routes neither naming a patient nor listed: add them to PATIENT_IN_BODY or NOT_PATIENT_GROUPS in "
        f"tests/security/test_audit_completeness.py: {unclassified}")
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    listed = {k if isinstance(k, str) else k[0] for k in NOT_PATIENT} | {e for e, _m in PATIENT_IN_BODY}
    assert listed <= endpoints, f"listed endpoints that no longer exist: {sorted(listed - endpoints)}"
    overlap = sorted(f"{e} {m}" for e, m in PATIENT_IN_BODY if exemption(e, m))
    assert overlap == [], f"both patient and exempt: {overlap}"


def _role_for(endpoint: str) -> str:
    for key in ("admin", "resident", "pwo", "faculty"):
        if walk.permitted(endpoint, key) and (endpoint, key) not in walk.RECORD_LEVEL:
            return key
    raise AssertionError(f"no role may use {endpoint}")


def _max_audit_id() -> int:
    return db.session.execute(select(func.max(AuditLog.id))).scalar() or 0


@pytest.fixture
def clients(app, users, outbox):
    out = {}
    for key, user in users.items():
        page, api = app.test_client(), app.test_client()
        browser_login(page, outbox, user)
        out[key] = (page, api, {"Authorization": f"Bearer {api_login(api, outbox, user)}"})
    return out


def test_every_patient_route_writes_an_audit_row_with_the_patient(app, users, clients):
    w = walk.build_world(app, users)
    problems, walked = [], 0
    existing = {w.patient.id, w.patient2.id, w.child_id, w.child2_id}
    changed = True
    for rule, method in walk.route_pairs(app):
        kind = classify(rule, method)
        if kind == "exempt" or rule.endpoint in walk.SESSION_ENDING:
            continue
        key = _role_for(rule.endpoint)
        page, api_client, headers = clients[key]
        prepare = walk.PREPARE.get(rule.endpoint)
        if prepare is not None:
            prepare(w)
        if prepare is not None or changed:
            w.refresh()  # only writes change the world (reloading costs a query per object)
        expected = w.child.id if rule.endpoint.startswith(CHILD_ROUTES) else walk.audited_patient(rule, w)
        url = walk.url_for_rule(rule, w)
        api = walk.is_api_rule(app, url, method)
        before = _max_audit_id()
        changed = method in walk.UNSAFE
        resp = (api_client if api else page).open(url, method=method, headers=headers if api else {},
                                                  **walk.request_kwargs(rule.endpoint, method, w, api))
        walked += 1
        label = f"{method} {url} [{rule.endpoint}] as {key}"
        if resp.status_code >= 400:
            problems.append(f"{label}: answered {resp.status_code}, so the audit cannot be checked "
                            f"(fix its body or state in walk.py): {resp.get_data(as_text=True)[:200]}")
            continue
        rows = db.session.execute(select(AuditLog).where(AuditLog.id > before)).scalars().all()
        if kind == NEW:
            mine = [r for r in rows if r.patient_id is not None and r.patient_id not in existing
                    and db.session.get(Patient, r.patient_id) is not None]
        else:
            mine = [r for r in rows if r.patient_id == expected]
        if not mine:
            problems.append(f"{label}: no audit row for patient {kind if kind == NEW else expected} "
                            f"(rows written: {[(r.action, r.patient_id) for r in rows]})")
            continue
        if method in walk.UNSAFE and (rule.endpoint, method) not in OPENS \
                and all(r.action.endswith(READ_ACTIONS) for r in mine):
            problems.append(f"{label}: only reads were audited ({[r.action for r in mine]}): did the write fail?")
        who = {r.user_id for r in mine}
        if who != {users[key].id}:
            problems.append(f"{label}: audit rows name user(s) {who}, not {users[key].id}")
        existing |= {r.patient_id for r in mine}
    assert walked > 100
    assert problems == [], "\n".join(problems)
    leaked = [r.action for r in db.session.execute(select(AuditLog)).scalars()
              if walk.FREE_TEXT in json.dumps(r.details or {}, ensure_ascii=False)]
    assert leaked == [], f"audit details carry clinical free text: {leaked}"
