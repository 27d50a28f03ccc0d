"""Autosaved form drafts: the unsaved state of one form, per user, patient and form.

A draft is *not* the record. It is what a user typed into a long form (a proforma,
an intake record) and has not submitted yet, kept on the server so that a session
timeout, a browser crash or a closed tab never costs a typed character. Only its
owner ever sees it; no other user, role or admin can read or discard it.

No audit row is written per autosave and the content is never logged (it is clinical
free text); discarding a draft is audited as ``draft_discard`` (form key only).

Contract for a page that offers drafts (the proforma page, the intake-record page):

1. Choose a form key (``^[a-z][a-z0-9_:.-]{0,79}$``), e.g. ``"proforma:new"`` for a new
   proforma of a patient, ``"proforma:edit:31"`` for editing proforma 31, and pass the
   patient id (or None for forms that belong to no patient).
2. On GET, call ``draft = service.offer(user, patient_id, form_key)``. When it is not
   None, render the form with ``values = draft["data"]`` (instead of the saved record)
   and include the banner *outside* the form::

       {% include "drafts/_banner.html" %}   {# needs: draft; optional draft_next #}

   ``draft["data"]`` maps each field name to a string, or to a list of strings when the
   form sent the name more than once (checkbox groups, multi-selects, repeated table
   rows): a multi-value field with one value comes back as a plain string, and an
   unchecked checkbox group is absent, so read it as ``[v] if isinstance(v, str) else v``.
   The banner's "Discard draft" posts to /drafts/discard and comes back to this page.
3. Mark the form for autosave and load the script (no inline script)::

       <form method="post" data-autosave-key="proforma:new" data-autosave-patient="12"
             data-autosave-url="{{ url_for('drafts.save') }}"> ...
         <p class="autosave-status" data-autosave-status></p> ...
       </form>
       <script src="{{ url_for('static', filename='js/autosave.js') }}" defer></script>

   Fields named ``_*``, ``csrf_token`` and ``version`` are never stored in a draft.
4. After a successful submit (the record is saved), call
   ``service.discard(user, patient_id, form_key, reason="submitted")``. On a failed
   submit (422 with errors) keep the draft.
5. Optionally ``register_form("proforma", "Clinical proforma", url_builder)`` once at
   import time so that "My unsaved drafts" (``/drafts/``) can name the form and link back
   to it; ``url_builder(draft)`` returns the page URL or None.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..errors import NotFound, ValidationError, field_error
from ..extensions import db
from ..models_base import utcnow
from ..patients.models import Patient
from ..timeutil import IST
from .models import Draft

FORM_KEY_RE = re.compile(r"^[a-z][a-z0-9_:.-]{0,79}$")
MAX_BYTES = 256 * 1024
MAX_KEYS = 500
MAX_FIELD_NAME = 200
# Form fields that are plumbing, not typing.
SKIP_NAMES = frozenset({"csrf_token", "version"})


def is_stored_field(name: str) -> bool:
    return bool(name) and not name.startswith("_") and name not in SKIP_NAMES


# --------------------------------------------------------------------------- validation

def check_form_key(form_key) -> str:
    if not isinstance(form_key, str) or not FORM_KEY_RE.match(form_key):
        raise ValidationError("Invalid form key", errors=[field_error(
            "_draft_key", "Form key must be 1-80 characters: lower-case letters, digits, _ : . - "
                          "(starting with a letter)", None)])
    return form_key


def check_patient_id(patient_id) -> int | None:
    if patient_id is None or patient_id == "":
        return None
    if isinstance(patient_id, bool):
        raise ValidationError("Invalid patient id")
    if isinstance(patient_id, str):
        if not patient_id.isdecimal() or len(patient_id) > 10:
            raise ValidationError("Invalid patient id", errors=[field_error("_draft_patient",
                                                                            "Patient id must be a number")])
        patient_id = int(patient_id)
    if not isinstance(patient_id, int) or not 0 < patient_id <= 2_147_483_647:
        raise ValidationError("Invalid patient id", errors=[field_error("_draft_patient",
                                                                        "Patient id must be a number")])
    return patient_id


def check_data(data) -> dict:
    """A dict of field name -> str | list[str]; at most 500 keys and 256 KB as JSON."""
    if not isinstance(data, dict):
        raise ValidationError("Draft data must be an object of form fields")
    if len(data) > MAX_KEYS:
        raise ValidationError(f"Too many fields in the draft (at most {MAX_KEYS})")
    clean = {}
    for name, value in data.items():
        if not isinstance(name, str) or not name or len(name) > MAX_FIELD_NAME:
            raise ValidationError("Draft field names must be non-empty text (at most 200 characters)")
        if isinstance(value, str):
            clean[name] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            clean[name] = list(value)
        else:
            raise ValidationError("Draft values must be text or lists of text",
                                  errors=[field_error(name, "Value must be text or a list of text")])
    size = len(json.dumps(clean, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_BYTES:
        raise ValidationError(f"The draft is too large to save ({size // 1024} KB; at most {MAX_BYTES // 1024} KB)")
    return clean


def _check_patient(patient_id: int | None) -> None:
    if patient_id is None:
        return
    patient = db.session.get(Patient, patient_id)
    if patient is None or not patient.is_active:
        raise NotFound("Patient not found")


# --------------------------------------------------------------------------- operations

def _query(user, patient_id: int | None, form_key: str):
    q = select(Draft).where(Draft.user_id == user.id, Draft.form_key == form_key)
    q = q.where(Draft.patient_id.is_(None)) if patient_id is None else q.where(Draft.patient_id == patient_id)
    return q


def save(user, patient_id, form_key: str, data: dict) -> Draft:
    """Create or replace the user's draft of this form (upsert). Commits.

    Two saves of the same draft racing each other (a debounced save and a beacon on
    closing the tab) both succeed: the loser of the insert updates the winner's row.
    """
    form_key = check_form_key(form_key)
    patient_id = check_patient_id(patient_id)
    clean = check_data(data)
    _check_patient(patient_id)
    now = utcnow()
    draft = db.session.execute(_query(user, patient_id, form_key)).scalar_one_or_none()
    if draft is None:
        try:
            with db.session.begin_nested():
                draft = Draft(user_id=user.id, patient_id=patient_id, form_key=form_key, data=clean,
                              created_at=now, updated_at=now)
                db.session.add(draft)
        except IntegrityError:
            draft = db.session.execute(_query(user, patient_id, form_key)).scalar_one()
    draft.data = clean
    draft.updated_at = now  # also when nothing changed: "saved at" is the last save
    db.session.commit()
    return draft


def get(user, patient_id, form_key: str) -> Draft | None:
    """The user's own draft of this form, or None (also for a malformed key or id)."""
    try:
        form_key = check_form_key(form_key)
        patient_id = check_patient_id(patient_id)
    except ValidationError:
        return None
    return db.session.execute(_query(user, patient_id, form_key)).scalar_one_or_none()


def discard(user, patient_id, form_key: str, *, reason: str = "discarded") -> bool:
    """Delete the user's own draft of this form. True when there was one. Commits.

    ``reason``: "discarded" (the user threw it away) or "submitted" (the page saved
    the record and calls this to clear the draft)."""
    form_key = check_form_key(form_key)
    patient_id = check_patient_id(patient_id)
    draft = db.session.execute(_query(user, patient_id, form_key)).scalar_one_or_none()
    if draft is None:
        return False
    audit.record("draft_discard", "draft", draft.id, patient_id=draft.patient_id, user_id=user.id,
                 details={"form_key": form_key, "reason": reason[:20]})
    db.session.delete(draft)
    db.session.commit()
    return True


def with_key_prefix(user, patient_id: int, prefix: str) -> list[Draft]:
    """The user's own drafts for this patient whose form key starts with ``prefix`` (the
    sections of one form, each saved as its own draft)."""
    return list(db.session.execute(select(Draft).where(
        Draft.user_id == user.id, Draft.patient_id == patient_id,
        Draft.form_key.startswith(prefix, autoescape=True))).scalars())


def list_for_user(user) -> list[Draft]:
    return list(db.session.execute(select(Draft).where(Draft.user_id == user.id)
                                   .order_by(Draft.updated_at.desc(), Draft.id.desc())).scalars())


# --------------------------------------------------------------------------- presentation

def saved_at(draft: Draft) -> dt.datetime:
    value = draft.updated_at or draft.created_at
    if value.tzinfo is None:  # SQLite returns naive datetimes; they are UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def time_facts(draft: Draft) -> dict:
    """saved_at (ISO UTC), saved_at_local ("HH:MM" IST) and a label that adds the date
    when the draft is not from today ("10:42" or "10:42 on 3 Mar 2025")."""
    when = saved_at(draft)
    local = when.astimezone(IST)
    hhmm = local.strftime("%H:%M")
    today = dt.datetime.now(IST).date()
    label = hhmm if local.date() == today else f"{hhmm} on {local.day} {local.strftime('%b %Y')}"
    return {"saved_at": when.isoformat(), "saved_at_local": hhmm, "saved_at_label": label}


def offer(user, patient_id, form_key: str) -> dict | None:
    """What a form page needs to offer the user's draft, or None:
    ``{"data": {...}, "saved_at": ISO, "saved_at_local": "10:42", "saved_at_label": "10:42"
    (or "10:42 on 3 Mar 2025" when not from today), "form_key": ..., "patient_id": ...}``."""
    draft = get(user, patient_id, form_key)
    if draft is None:
        return None
    return {"data": dict(draft.data or {}), "form_key": draft.form_key, "patient_id": draft.patient_id,
            **time_facts(draft)}


# Forms that know their page: prefix of the form key -> (label, url builder).
_FORMS: dict[str, tuple[str, Callable[[Draft], str | None] | None]] = {}


def register_form(prefix: str, label: str, url_builder: Callable[[Draft], str | None] | None = None) -> None:
    """Let "My unsaved drafts" name a form and link to its page. ``prefix`` is the part
    of the form key before the first ':' (e.g. "proforma")."""
    _FORMS[prefix] = (label, url_builder)


def describe(draft: Draft) -> dict:
    prefix = draft.form_key.split(":", 1)[0]
    label, builder = _FORMS.get(prefix, (None, None))
    url = None
    if builder is not None:
        try:
            url = builder(draft)
        except Exception:  # a broken link must not break the list
            url = None
    return {"label": label or draft.form_key, "url": url}
