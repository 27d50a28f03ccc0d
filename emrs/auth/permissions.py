"""The one permission map. Every page and API route is checked against it by
``auth.guard.enforce`` before its view runs; an endpoint without an entry is
refused (403), so a new route cannot be reachable by accident.

Values: PUBLIC (no login), AUTH (any signed-in user) or a set of roles
(roles-and-workflow.md §2; compared case-insensitively after trimming).
Record-level rules (own proformas, assigned patients, files) live in the
domain services, not here.
"""
from __future__ import annotations

from .models import ADMIN, FACULTY, PWO, RESIDENT
from .models import SENIOR as SENIOR_GRADE

PUBLIC = "public"
AUTH = "auth"
ALL_ROLES = frozenset({ADMIN, FACULTY, RESIDENT, PWO})
ADMIN_ONLY = frozenset({ADMIN})
CLINICIANS = frozenset({ADMIN, FACULTY, RESIDENT})
DOCTORS = frozenset({FACULTY, RESIDENT})
STAFF_NOT_ADMIN = frozenset({PWO, FACULTY, RESIDENT})
SENIOR = frozenset({ADMIN, FACULTY})  # list keepers: option groups, formulary
ROOM_KEEPERS = frozenset({ADMIN, PWO})  # OPD rooms: add, rename, capacity, (de)activate
COUNTER = frozenset({PWO, ADMIN})  # the registration counter

PERMISSIONS: dict[str, str | frozenset] = {
    # infrastructure
    "static": PUBLIC,
    "health.health": PUBLIC,
    # browser: sign in and account
    "auth.login": PUBLIC,
    "auth.login_otp": PUBLIC,
    "auth.resend_otp": PUBLIC,
    "auth.forgot_password": PUBLIC,
    "auth.forgot_verify": PUBLIC,
    "auth.reset_password": PUBLIC,
    "auth.setup_password": PUBLIC,
    "auth.logout": AUTH,
    "auth.profile": AUTH,
    "auth.change_password": AUTH,
    "auth.totp_setup": AUTH,
    "auth.totp_remove": AUTH,
    "auth.end_other_sessions": AUTH,
    # browser: user administration
    "auth.users": ADMIN_ONLY,
    "auth.user_new": ADMIN_ONLY,
    "auth.user_edit": ADMIN_ONLY,
    "auth.user_set_active": ADMIN_ONLY,
    "auth.user_set_otp": ADMIN_ONLY,
    "auth.user_unlock": ADMIN_ONLY,
    "auth.user_end_sessions": ADMIN_ONLY,
    "auth.user_resend_invitation": ADMIN_ONLY,
    # browser: dashboard, audit
    "dashboard.index": AUTH,
    "audit.index": ADMIN_ONLY,
    "audit.patient": ADMIN_ONLY,
    "audit.user": ADMIN_ONLY,
    "audit.export": ADMIN_ONLY,
    # API: root and index
    "api.index": PUBLIC,
    "api.openapi": PUBLIC,  # the OpenAPI document and its docs page describe, they answer no data
    "api.docs": PUBLIC,
    # API: login, OTP, reset (public by nature)
    "api.users_login": PUBLIC,
    "api.users_verify_login_otp": PUBLIC,
    "api.users_resend_login_otp": PUBLIC,
    "api.users_forgot_password": PUBLIC,
    "api.users_verify_otp": PUBLIC,
    "api.users_reset_password": PUBLIC,
    "api.users_setup_password": PUBLIC,
    # API: session (refresh and activity authenticate with the refresh cookie)
    "api.session_refresh": PUBLIC,
    "api.session_activity": PUBLIC,
    "api.session_info": AUTH,
    "api.session_logout": AUTH,
    # API: own account
    "api.users_profile": AUTH,
    "api.users_profile_update": AUTH,
    "api.users_change_password": AUTH,
    "api.users_enable_2fa": AUTH,
    "api.users_disable_2fa": AUTH,
    "api.users_doctors": AUTH,
    # API: user administration (LATER: register is Admin only)
    "api.users_register": ADMIN_ONLY,
    "api.users_list": ADMIN_ONLY,
    "api.users_stats": ADMIN_ONLY,
    "api.users_get": ADMIN_ONLY,
    "api.users_update": ADMIN_ONLY,
    "api.users_delete": ADMIN_ONLY,
    "api.users_activate": ADMIN_ONLY,
    "api.users_unlock": ADMIN_ONLY,
    "api.users_resend_invitation": ADMIN_ONLY,
    "api.users_deactivate": ADMIN_ONLY,
    # --- patients: registration, search, patient page, visits ---
    "patients.index": ALL_ROLES,
    "patients.quick_search": ALL_ROLES,
    "patients.export": ALL_ROLES,
    "patients.new": ALL_ROLES,
    "patients.check_duplicates": ALL_ROLES,
    "patients.card_edit": ALL_ROLES,
    "patients.record_edit": ALL_ROLES,
    "patients.show": ALL_ROLES,
    "patients.visit_detail": ALL_ROLES,
    "patients.assign": ALL_ROLES,
    "patients.complete_visit": ALL_ROLES,
    "patients.archive": ADMIN_ONLY,
    # patient reports: one patient for whoever opens the patient's page (the clinical sections
    # only for clinicians); bulk only for department-wide list scope (emrs/reports/service.py)
    "reports.patient_report": ALL_ROLES,
    "reports.bulk": ALL_ROLES,
    "api.patients_report": ALL_ROLES,
    "api.patients_reports_bulk": ALL_ROLES,
    # --- the OPD day: counter, slip, Today's Patients (record-level rules in opd/queue.py) ---
    "opd.counter": COUNTER,
    "opd.counter_register": COUNTER,
    "opd.counter_requeue": COUNTER,
    "opd.slip_page": ALL_ROLES,
    "opd.slip_pdf": ALL_ROLES,
    "opd.today": ALL_ROLES,
    "opd.today_list": ALL_ROLES,
    "opd.pick_room": DOCTORS,
    "opd.start": CLINICIANS,
    "opd.change_room": CLINICIANS,
    "opd.transfer": CLINICIANS,
    "opd.claim": CLINICIANS,
    "opd.complete": ALL_ROLES,
    "opd.reopen": ALL_ROLES,
    "api.patients_change_room": CLINICIANS,
    "api.patients_transfer": CLINICIANS,
    "api.patients_add_to_my_list": CLINICIANS,
    "api.patients_visits_reopen": ALL_ROLES,
    "api.patients_by_room": ADMIN_ONLY,
    "api.patients_list": ALL_ROLES,
    "api.patients_search": ALL_ROLES,
    "api.patients_create": STAFF_NOT_ADMIN,
    "api.patients_register_complete": ALL_ROLES,
    "api.patients_get": ALL_ROLES,
    "api.patients_update": ALL_ROLES,
    "api.patients_delete": ADMIN_ONLY,
    # API: child patients (the Child Guidance Clinic; emrs/api/child_patients.py)
    "api.child_patient_register": COUNTER,
    "api.child_patient_by_cr": ALL_ROLES,
    "api.child_patient_add_to_today": ALL_ROLES,
    "api.child_patient_documents": ALL_ROLES,
    "api.child_patient_get": ALL_ROLES,
    "api.child_patient_update": COUNTER,
    "api.child_patient_delete": ADMIN_ONLY,
    "api.child_patient_move_to_adult": SENIOR,
    "api.followups_by_child_patient": CLINICIANS,  # follow-up notes are clinical (auth/records.py)
    # pages: child patients (emrs/children/views.py)
    "children.new": COUNTER,
    "children.edit": COUNTER,
    "children.move_to_adult": SENIOR,
    "api.patients_profile": ALL_ROLES,
    "api.patients_visits": ALL_ROLES,
    "api.patients_visits_count": ALL_ROLES,
    "api.patients_visits_complete": ALL_ROLES,
    "api.patients_clinical_records": ALL_ROLES,
    "api.patients_adl_files": ALL_ROLES,
    "api.patients_assign": ALL_ROLES,
    "api.patients_by_cr": ALL_ROLES,
    "api.patients_by_psy": ALL_ROLES,
    "api.patients_by_adl": AUTH,
    "api.sessions_create": ALL_ROLES,
    "api.sessions_by_patient": ALL_ROLES,
    "api.sessions_complete": ALL_ROLES,
    "api.patient_cards_list": ALL_ROLES,
    "api.patient_cards_create": ALL_ROLES,
    "api.patient_cards_get": ALL_ROLES,
    "api.patient_cards_update": ALL_ROLES,
    "api.out_patient_records_list": ALL_ROLES,
    "api.out_patient_records_get": ALL_ROLES,
    "api.out_patient_records_update": ALL_ROLES,
    # --- clinical proformas ---
    "clinical.proforma_new": CLINICIANS,
    "clinical.proforma_edit": CLINICIANS,
    "clinical.proforma_show": CLINICIANS,
    "clinical.proforma_summary": CLINICIANS,
    "clinical.proformas": CLINICIANS,
    "clinical.proforma_stats": CLINICIANS,
    "clinical.withdrawn": ADMIN_ONLY,
    "clinical.withdrawn_restore": ADMIN_ONLY,
    "clinical.withdrawn_purge": ADMIN_ONLY,
    "api.proformas_create": ALL_ROLES,
    "api.proformas_list": AUTH,
    "api.proformas_mine": DOCTORS,
    "api.proformas_complex": AUTH,
    "api.proformas_stats": ADMIN_ONLY,
    "api.proformas_decision_stats": AUTH,
    "api.proformas_visit_trends": AUTH,
    "api.proformas_by_patient": AUTH,
    "api.proformas_last_visit": AUTH,
    "api.proformas_get": AUTH,
    "api.proformas_update": ALL_ROLES,
    "api.proformas_delete": ALL_ROLES,
    "api.proformas_versions": AUTH,  # record level: a welfare officer reads only their own stubs
    "api.proformas_restore": ADMIN_ONLY,
    # --- child walk-in proforma (a clinical_proforma of form 'child'; record rules as the adult's)
    "child_clinical.new": CLINICIANS,
    "child_clinical.edit": CLINICIANS,
    "child_clinical.show": CLINICIANS,
    "api.child_proformas_create": CLINICIANS,
    "api.child_proformas_list": AUTH,  # record level: a welfare officer reads only what they filled (nothing)
    "api.child_proformas_by_patient": AUTH,
    "api.child_proformas_get": AUTH,
    "api.child_proformas_update": CLINICIANS,
    "api.child_proformas_delete": CLINICIANS,
    # --- intake record: work-up pages ---
    "intake.edit": CLINICIANS,
    "intake.save_section": CLINICIANS,
    "intake.show": CLINICIANS,
    "intake.open_for_patient": CLINICIANS,
    "intake.index": CLINICIANS,
    # --- CAP detailed work-up (a child's intake record) and growth charts: clinicians only ---
    "cap.open_for_child": CLINICIANS,
    "cap.edit": CLINICIANS,
    "cap.save_section": CLINICIANS,
    "cap.show": CLINICIANS,
    # --- prescriptions ---
    "prescriptions.edit": DOCTORS | ADMIN_ONLY,
    "prescriptions.edit_followup": DOCTORS | ADMIN_ONLY,
    "prescriptions.check_followup": DOCTORS | ADMIN_ONLY,
    "prescriptions.check": DOCTORS | ADMIN_ONLY,
    "prescriptions.save_template": DOCTORS | ADMIN_ONLY,
    "prescriptions.show": CLINICIANS,
    "prescriptions.pdf": CLINICIANS,
    "prescriptions.history": CLINICIANS,
    "api.prescriptions_create": CLINICIANS,
    "api.prescriptions_list": CLINICIANS,
    "api.prescriptions_by_proforma": CLINICIANS,
    "api.prescriptions_by_patient": CLINICIANS,
    "api.prescriptions_get": CLINICIANS,
    "api.prescriptions_update": CLINICIANS,
    "api.prescriptions_delete": CLINICIANS,
    "api.prescriptions_versions": CLINICIANS,
    "api.prescriptions_restore": ADMIN_ONLY,
    "api.prescriptions_pdf": CLINICIANS,
    # --- patients: files ---
    "patients.files": ALL_ROLES,
    "patients.files_upload": ALL_ROLES,
    "patients.file_download": ALL_ROLES,
    "patients.file_delete": ALL_ROLES,
    "api.patient_files_stats": ALL_ROLES,
    "api.patient_files_create": ALL_ROLES,
    "api.patient_files_update": ALL_ROLES,
    "api.patient_files_get": ALL_ROLES,
    "api.patient_files_delete": ALL_ROLES,
    "api.patient_files_download": ALL_ROLES,
    "api.patients_files_create_alias": ALL_ROLES,
    "api.patients_files_update_alias": ALL_ROLES,
    "api.patients_files_get_alias": ALL_ROLES,
    "api.patients_files_delete_alias": ALL_ROLES,
    "api.patients_files_upload": ALL_ROLES,
    "api.patients_files_list": ALL_ROLES,
    "api.patients_files_remove": ALL_ROLES,
    # --- patients: statistics and export ---
    "patients.stats": ALL_ROLES,
    "api.patients_stats": ALL_ROLES,
    "api.patients_age_distribution": ALL_ROLES,
    # --- drafts ---
    "drafts.index": AUTH,  # a draft belongs to its user only (checked in drafts.service)
    "drafts.save": AUTH,
    "drafts.discard": AUTH,
    "drafts.banner": AUTH,
    # --- clinical: ICD and option groups ---
    "clinical.icd_search": ALL_ROLES,
    "api.icd_search": AUTH,
    # --- clinical: the ICD-11 tree. Browsing: whoever writes proformas, and
    # Admin; reading it as data: any signed-in user (as the picker's search). Local additions to
    # the tree are an Admin's act, on every door.
    "clinical.icd11_browse": CLINICIANS,
    "clinical.icd11_children": CLINICIANS,
    "clinical.icd11_local_new": ADMIN_ONLY,
    "clinical.icd11_local_edit": ADMIN_ONLY,
    "clinical.icd11_local_active": ADMIN_ONLY,
    "api.icd11_entities_list": AUTH,
    "api.icd11_entities_get": AUTH,
    "api.icd11_entities_create": ADMIN_ONLY,
    "api.icd11_entities_update": ADMIN_ONLY,
    "api.icd11_entities_delete": ADMIN_ONLY,
    "clinical.options": SENIOR,
    "clinical.options_add": SENIOR,
    "clinical.options_move": SENIOR,
    "clinical.options_retire": SENIOR,
    "clinical.options_restore": SENIOR,
    "api.clinical_options_all": AUTH,
    "api.clinical_options_get": AUTH,
    "api.clinical_options_add": AUTH,
    "api.clinical_options_delete": CLINICIANS,
    "api.proforma_options_all": AUTH,
    "api.proforma_options_get": AUTH,
    "api.proforma_options_add": AUTH,
    "api.proforma_options_delete": CLINICIANS,
    # --- intake record: file tracking and API ---
    "intake.record_room": ALL_ROLES,
    "intake.bulk_retrieve": ALL_ROLES,
    "intake.bulk_return": ALL_ROLES,
    "intake.file_store": ALL_ROLES,
    "intake.file_retrieve": ALL_ROLES,
    "intake.file_return": ALL_ROLES,
    "intake.file_archive": ALL_ROLES,
    "intake.movements": ALL_ROLES,
    "intake.stats": ALL_ROLES,
    # the same rules under both API prefixes (api.intake_* and api.adl_*)
    **{f"api.{prefix}_{name}": AUTH
       for prefix in ("intake", "adl")
       for name in ("list", "create", "status_stats", "active", "to_retrieve", "bulk_retrieve", "bulk_return",
                    "by_patient", "by_adl_no", "get", "update", "delete", "retrieve", "return", "archive",
                    "movement_history")},
    "api.intake_stats": ADMIN_ONLY,
    "api.adl_stats": ADMIN_ONLY,
    # --- prescriptions: formulary ---
    "prescriptions.formulary": SENIOR,
    "prescriptions.formulary_add": SENIOR,
    "prescriptions.formulary_retire": SENIOR,
    "prescriptions.formulary_restore": SENIOR,
    "prescriptions.medicine_search": CLINICIANS,
    "api.medicines_list": CLINICIANS,
    "api.medicines_search": CLINICIANS,
    "api.medicines_get": CLINICIANS,
    "api.medicines_create": SENIOR,
    "api.medicines_delete": SENIOR,
    # --- OPD rooms: management (Admin, PWO), a doctor's room for the day ---
    "opd.rooms": ROOM_KEEPERS,
    "opd.room_new": ROOM_KEEPERS,
    "opd.room_edit": ROOM_KEEPERS,
    "opd.room_set_active": ROOM_KEEPERS,
    "opd.room_delete": ROOM_KEEPERS,
    "opd.room_move_doctor": ADMIN_ONLY,
    "api.rooms_list": ALL_ROLES,
    "api.rooms_get": ROOM_KEEPERS,
    "api.rooms_create": ROOM_KEEPERS,
    "api.rooms_update": ROOM_KEEPERS,
    "api.rooms_delete": ROOM_KEEPERS,
    "api.users_rooms_available": AUTH,
    "api.users_rooms_my_room": AUTH,
    "api.users_rooms_select": DOCTORS,
    "api.users_rooms_clear": DOCTORS,
    "api.users_change_room": ADMIN_ONLY,
    # --- referrals between doctors (record level: target / referrer / Admin, opd.referrals) ---
    "opd.referrals": ALL_ROLES,
    "opd.refer": CLINICIANS,
    "opd.referral_act": CLINICIANS,
    "api.patients_refer": CLINICIANS,
    "api.patients_refer_bulk": CLINICIANS,
    "api.referrals_list": ALL_ROLES,
    "api.referrals_seen": CLINICIANS,
    "api.referrals_complete": CLINICIANS,
    "api.referrals_revoke": CLINICIANS,
    # --- dashboard ---
    "dashboard.calendar": ALL_ROLES,
    "dashboard.rating_patients": CLINICIANS,  # the patients behind the rating-scale figures (scores)
    "api.dashboard": ALL_ROLES,
    "api.patients_registrations_by_date": ALL_ROLES,
    # the patients registered on one day, by name: the Admin's, as in the original (a list of
    # the whole department would step round a Junior Resident's own list scope)
    "api.patients_by_date": ADMIN_ONLY,
    # --- follow-up notes of returning patients: clinical text, so clinicians only (a welfare
    # officer neither reads nor writes them, as with proformas they did not open); amending and
    # withdrawing someone else's note follow auth/records.py.
    "followups.new": CLINICIANS,
    "followups.show": CLINICIANS,
    "followups.amend": CLINICIANS,
    "followups.withdraw": CLINICIANS,
    "api.followups_create": CLINICIANS,
    "api.followups_get": CLINICIANS,
    "api.followups_by_patient": CLINICIANS,
    "api.followups_update": CLINICIANS,
    "api.followups_delete": CLINICIANS,
    "api.followups_versions": CLINICIANS,
    "api.cap_workup_by_child": CLINICIANS,
    "api.cap_workup_get": CLINICIANS,
    "api.cap_workup_create": CLINICIANS,
    "api.cap_workup_update": CLINICIANS,
    "api.cap_workup_delete": ADMIN_ONLY,  # the original: Admin; withdrawn (archived), never destroyed
    "api.patient_growth": CLINICIANS,
    # --- rating scales (issue 19): scores are clinical (read by clinicians); a welfare officer
    # enters self-report scales (the service refuses clinician-rated ones) and hands the tablet
    # to the patient. The kiosk pages answer only the browser's kiosk session (one patient, one
    # scale), which the service checks; without one they show "hand the tablet back".
    "api.instruments_list": ALL_ROLES,
    "api.instruments_get": ALL_ROLES,
    "api.instruments_score": CLINICIANS,
    "api.assessments_create": ALL_ROLES,
    "api.assessments_by_patient": CLINICIANS,
    "api.assessments_get": CLINICIANS,
    "api.assessments_acknowledge": CLINICIANS,
    "api.assessments_confirm": CLINICIANS,
    "api.assessments_delete": CLINICIANS,
    "assessments.new": ALL_ROLES,
    "assessments.score": CLINICIANS,
    "assessments.create": ALL_ROLES,
    "assessments.index": CLINICIANS,
    "assessments.show": CLINICIANS,
    "assessments.acknowledge": CLINICIANS,
    "assessments.confirm": CLINICIANS,
    "assessments.withdraw": CLINICIANS,
    "assessments.kiosk_start": ALL_ROLES,
    "assessments.kiosk": PUBLIC,
    "assessments.kiosk_submit": PUBLIC,
    "assessments.kiosk_end": PUBLIC,
    # --- FHIR R4 read access. Patient data for every role that reads patients;
    # diagnoses (Condition, from proformas) and prescriptions (MedicationRequest) and
    # $everything for clinicians, as on every other door (auth/records.py).
    "fhir.metadata": PUBLIC,
    "fhir.patient_read": ALL_ROLES,
    "fhir.patient_search": ALL_ROLES,
    "fhir.encounter_search": ALL_ROLES,
    "fhir.condition_search": CLINICIANS,
    "fhir.medication_request_search": CLINICIANS,
    "fhir.encounter_read": ALL_ROLES,
    "fhir.condition_read": CLINICIANS,
    "fhir.medication_request_read": CLINICIANS,
    "fhir.patient_everything": CLINICIANS,
    # Rating scales: the instruments (Questionnaire) describe, they hold no patient data; the
    # answers and totals (QuestionnaireResponse, Observation) are scores: clinicians only.
    "fhir.questionnaire_search": ALL_ROLES,
    "fhir.questionnaire_read": ALL_ROLES,
    "fhir.questionnaire_response_search": CLINICIANS,
    "fhir.questionnaire_response_read": CLINICIANS,
    "fhir.observation_search": CLINICIANS,
    "fhir.observation_read": CLINICIANS,
}


# The menu: an entry is shown to whoever may follow it (PERMISSIONS), except these, shown
# only to some of the roles that may use them (doctors register from the patients list; the
# counter registers all day).
MENU_ONLY_FOR: dict[str, frozenset] = {
    "patients.new": frozenset({PWO, ADMIN}),
}


def in_menu_of(endpoint: str, role: str | None) -> bool:
    """Whether a menu entry for ``endpoint`` belongs in the menu of ``role`` (who may follow
    it at all is still PERMISSIONS' answer)."""
    only = MENU_ONLY_FOR.get(endpoint)
    return only is None or role in only


def rule_for(endpoint: str | None):
    if endpoint is None:
        return None
    return PERMISSIONS.get(endpoint)


# List scope: how much of the department's queue and patient lists a person sees. A Junior
# Resident sees the patients assigned to them and their room's; everyone else the department
# (doctors' pages start filtered to their own room, and may widen it).
OWN_AND_ROOM = "own_and_room"
DEPARTMENT = "department"


def list_scope(user) -> str:
    """OWN_AND_ROOM for Junior Residents (a Resident without a grade counts as Junior),
    DEPARTMENT for everyone else. It scopes what a person *browses*: Today's Patients, the
    dashboard's figures, the patients list (``/patients/`` and ``GET /api/patients`` without a
    search term) and its export, bulk reports. Their own patients: ``opd.queue.own_patients``."""
    if user.role == RESIDENT and user.grade != SENIOR_GRADE:
        return OWN_AND_ROOM
    return DEPARTMENT


def search_scope(user) -> str:
    """DEPARTMENT for everyone: a search by name, CR/PSY/ADL number or mobile (the header's
    quick search, ``/patients/?q=``, ``GET /api/patients?search=``, ``/api/patients/search``,
    the counter) finds any patient of the department. A Junior Resident must find a returning
    patient who is not yet theirs to bring them into today's queue (``POST /api/patients``
    with ``patient_id``: the visit goes to the doctor's room) or to answer a referral, and
    every role may open any patient's page anyway (auth/records.py): narrowing the search
    would hide nothing and would block care (docs/opd.md, docs/record-rules.md)."""
    return DEPARTMENT


# What an OWN_AND_ROOM reader browses, as a condition on Patient: their own patients and those
# nobody has yet. The OPD domain knows rooms, visits and referrals and gives the rule
# (opd.queue.browsable registers itself); the patients list asks for it here.
_OWN_LIST_RULE = None


def register_own_list(rule) -> None:
    global _OWN_LIST_RULE
    _OWN_LIST_RULE = rule


def own_list_condition(user):
    if _OWN_LIST_RULE is None:  # fail closed: no list is widened by a rule that is missing
        raise RuntimeError("no rule of what an OWN_AND_ROOM reader browses is registered (emrs.opd.queue)")
    return _OWN_LIST_RULE(user)
