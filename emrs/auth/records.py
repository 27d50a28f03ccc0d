"""Who may do what with each kind of clinical record: the one place it is decided.

Every door asks here: pages, htmx fragments, the JSON API, FHIR, printed PDFs, the patient
page's timeline and exports. The permission map (permissions.py) says which roles may reach a
route at all; this module says what a person may do with *this* record, from the act, the kind
of record and who wrote it.

Kinds: ``proforma`` (walk-in clinical proforma), ``work-up`` (the intake record's clinical
sections), ``prescription``, ``file`` (a scanned document of the patient), ``follow-up``
(a returning patient's consultation note) and ``assessment`` (a scored rating scale).
Acts: ``read``, ``create``, ``amend`` (a new version of someone's record), ``withdraw`` (the
app never hard-deletes a clinical record; a withdrawn record stays, marked), ``restore`` and
``purge`` (files only, after the retention period).

The rules (docs/record-rules.md):

* Reading clinical content (proforma, work-up, prescription and its PDF, follow-up note) is for clinicians:
  Admin, Faculty, Resident. A Psychiatric Welfare Officer reads only the proformas they opened
  themselves (the visit stub of registration), and the work-up's record-room fields (where the
  paper file is), never its clinical sections. Scanned files: every role.
* Creating: prescriptions only by prescribers (Admin, Faculty, Resident; contract §2); a work-up
  and a follow-up note by clinicians; a proforma by anyone, but a welfare officer's proforma is a visit stub — header
  fields only, no clinical content, decision or prescription (``STUB_FIELDS``).
* Amending and withdrawing someone else's record follows seniority: the author always may;
  Faculty may over records written by Residents and welfare officers; a Resident only over a
  welfare officer's visit stub; never a Resident over Faculty's record, never one Faculty member
  over another's. An Admin may withdraw any record (a wrong patient, a duplicate) but amends
  only records they wrote. The work-up is one shared document of the patient, written section by
  section by the clinicians who see them: any clinician amends it. A scanned file is removed by
  its uploader, a welfare officer (they keep the patient's documents) or an Admin.
* Restoring a withdrawn record and purging a withdrawn file: Admin only.
"""
from __future__ import annotations

from ..errors import Forbidden
from ..extensions import db
from .models import ADMIN, FACULTY, PWO, RESIDENT, User

PROFORMA, WORKUP, PRESCRIPTION, FILE = "proforma", "work-up", "prescription", "file"
FOLLOWUP = "follow-up"
ASSESSMENT = "assessment"
KINDS = (PROFORMA, WORKUP, PRESCRIPTION, FILE, FOLLOWUP, ASSESSMENT)
READ, CREATE, AMEND, WITHDRAW, RESTORE, PURGE = "read", "create", "amend", "withdraw", "restore", "purge"

CLINICIANS = frozenset({ADMIN, FACULTY, RESIDENT})
ALL_ROLES = frozenset({ADMIN, FACULTY, RESIDENT, PWO})

READERS = {PROFORMA: CLINICIANS, WORKUP: CLINICIANS, PRESCRIPTION: CLINICIANS, FILE: ALL_ROLES, FOLLOWUP: CLINICIANS,
           ASSESSMENT: CLINICIANS}
# A welfare officer enters self-report scales only (emrs/assessments/service.py), for a clinician to confirm.
CREATORS = {PROFORMA: ALL_ROLES, WORKUP: CLINICIANS, PRESCRIPTION: CLINICIANS, FILE: ALL_ROLES, FOLLOWUP: CLINICIANS,
            ASSESSMENT: ALL_ROLES}
# Whose records a role may amend or withdraw besides their own: the authors' roles.
OVER = {FACULTY: frozenset({RESIDENT, PWO}), RESIDENT: frozenset({PWO}), ADMIN: frozenset(), PWO: frozenset()}

# A welfare officer's proforma is the visit stub registration opens: these fields only.
STUB_FIELDS = frozenset({"patient_id", "visit_date", "visit_type", "room_no", "assigned_doctor", "version",
                         "doctor_decision"})

NOUN = {PROFORMA: "proforma", WORKUP: "work-up", PRESCRIPTION: "prescription", FILE: "file",
        FOLLOWUP: "follow-up note", ASSESSMENT: "rating-scale assessment"}

MESSAGES = {
    (READ, PROFORMA): "Clinical proformas are read by clinicians (Admin, Faculty, Resident).",
    (READ, WORKUP): "The work-up's clinical sections are read by clinicians (Admin, Faculty, Resident).",
    (READ, PRESCRIPTION): "Prescriptions are read by clinicians (Admin, Faculty, Resident).",
    (READ, FOLLOWUP): "Follow-up notes are read by clinicians (Admin, Faculty, Resident).",
    (READ, ASSESSMENT): "Rating-scale scores are read by clinicians (Admin, Faculty, Resident).",
    (CREATE, PRESCRIPTION): "Only prescribers (Faculty, Resident, Admin) write prescriptions.",
    (CREATE, FOLLOWUP): "Follow-up notes are written by clinicians (Admin, Faculty, Resident).",
    (CREATE, WORKUP): "The work-up is written by clinicians (Admin, Faculty, Resident).",
    (AMEND, WORKUP): "The work-up is written by clinicians (Admin, Faculty, Resident).",
    (WITHDRAW, WORKUP): "The work-up is withdrawn by clinicians (Admin, Faculty, Resident).",
    (RESTORE, None): "Only an administrator restores a withdrawn record.",
    (PURGE, None): "Only an administrator purges a withdrawn file.",
}


def _role(user) -> str | None:
    return getattr(user, "role", None)


def author_role(author_id: int | None) -> str | None:
    if author_id is None:
        return None
    author = db.session.get(User, author_id)
    return author.role if author is not None else None


def may(actor, act: str, kind: str, author_id: int | None = None, author_role_: str | None = None) -> bool:
    """May ``actor`` do ``act`` to a record of ``kind`` written by ``author_id``?
    (``author_role_`` saves a look-up when the caller has it.)"""
    role = _role(actor)
    if role is None:
        return False
    if act == READ:
        if role in READERS[kind]:
            return True
        return kind == PROFORMA and author_id is not None and author_id == actor.id
    if act == CREATE:
        return role in CREATORS[kind]
    if act in (RESTORE, PURGE):
        return role == ADMIN
    if act not in (AMEND, WITHDRAW):
        return False
    if kind == WORKUP:
        return role in CLINICIANS
    if author_id is not None and author_id == actor.id:
        return role in CREATORS[kind]
    if act == WITHDRAW and role == ADMIN:
        return True
    if kind == FILE:
        return role == PWO  # someone else's scan: the welfare officers keep the patient's documents
    if author_id is None:  # the author's account is gone: Faculty stands in (and Admin withdraws)
        return role == FACULTY
    written_by = author_role_ or author_role(author_id)
    return written_by in OVER.get(role, ())


def message(actor, act: str, kind: str, author_id: int | None = None) -> str:
    fixed = MESSAGES.get((act, kind)) or MESSAGES.get((act, None))
    if fixed:
        return fixed
    noun = NOUN[kind]
    if act == CREATE:
        return f"Your role may not create a {noun}."
    verb = "change" if act == AMEND else "withdraw"
    return (f"You cannot {verb} this {noun}: it was written by someone else. The author, a Faculty member "
            f"(over Residents' records) or, to withdraw, an administrator can.")


def check(actor, act: str, kind: str, author_id: int | None = None) -> None:
    """Raise Forbidden (403, with the reason) unless ``may(...)``."""
    if not may(actor, act, kind, author_id):
        raise Forbidden(message(actor, act, kind, author_id))


def reason_required(actor, author_id: int | None) -> bool:
    """Amending a record someone else wrote needs a reason, except a welfare officer's
    visit stub, which the doctor seeing the patient is expected to fill in."""
    if author_id is not None and author_id == getattr(actor, "id", None):
        return False
    return author_role(author_id) != PWO


def reads_all(actor, kind: str) -> bool:
    """List scope: True when the actor reads every record of the kind, False when only
    the records they wrote (a welfare officer's proforma stubs)."""
    return _role(actor) in READERS[kind]


def stub_only(actor) -> bool:
    """A welfare officer's proforma holds the visit header only (``STUB_FIELDS``)."""
    return _role(actor) == PWO
