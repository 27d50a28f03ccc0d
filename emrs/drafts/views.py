"""Draft endpoints for static/js/autosave.js, the banner fragment and "My unsaved
drafts". Thin: parse the form, call the service, answer JSON (or a redirect for a
plain form post)."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.guard import principal, safe_next
from ..doors import envelope_error, page_error, wants_json
from ..errors import DomainError
from ..extensions import db
from ..patients import reading as patients_reading
from . import bp, service


@bp.errorhandler(CSRFError)
def _csrf_error(exc):
    """A stale token (e.g. the user signed in again in another tab): say so in JSON and
    hand the page a fresh one, so autosave retries instead of losing the typing. The
    answer is readable by our own origin only, like any page carrying a token."""
    db.session.rollback()
    if request.endpoint == "drafts.save" or wants_json():
        return envelope_error("The form's security token has expired.", 400, code="csrf", csrf_token=generate_csrf())
    return page_error("This form was open too long or was sent from another site. "
                      "Reload the page and try again; nothing was changed.", 400, "Form expired")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    return envelope_error("The draft is too large to save.", 413)


def _identifiers(source) -> tuple[str, int | None]:
    key = service.check_form_key(source.get("_draft_key") or source.get("key"))
    patient_id = service.check_patient_id(source.get("_draft_patient", source.get("patient")))
    return key, patient_id


def _form_data() -> dict:
    data = {}
    for name in request.form.keys():
        if not service.is_stored_field(name):
            continue
        values = request.form.getlist(name)
        data[name] = values[0] if len(values) == 1 else values
    return data


@bp.post("/save", endpoint="save")
def save():
    """Autosave: the page form as form fields plus ``_draft_key`` and ``_draft_patient``.
    200 ``{"saved_at": ISO, "saved_at_local": "HH:MM"}``."""
    try:
        key, patient_id = _identifiers(request.form)
        draft = service.save(principal(), patient_id, key, _form_data())
    except DomainError as exc:
        db.session.rollback()
        return envelope_error(exc.message, exc.status, errors=exc.errors)
    facts = service.time_facts(draft)
    return jsonify({"success": True, "saved_at": facts["saved_at"], "saved_at_local": facts["saved_at_local"]})


@bp.post("/discard", endpoint="discard")
def discard():
    """Throw the draft away. 204 for scripts; a plain form post goes back to ``next``
    (the form page, which then renders without the draft)."""
    nxt = safe_next(request.form.get("next")) or safe_next(request.referrer) or url_for("drafts.index")
    try:
        key, patient_id = _identifiers(request.form)
        found = service.discard(principal(), patient_id, key)
    except DomainError as exc:
        db.session.rollback()
        if wants_json():
            return envelope_error(exc.message, exc.status, errors=exc.errors)
        flash(exc.message, "error")
        return redirect(nxt)
    if wants_json():
        return "", 204
    flash("Draft discarded." if found else "There was no draft to discard.", "success" if found else "info")
    return redirect(nxt)


@bp.get("/banner", endpoint="banner")
def banner():
    """The "restored from 10:42" banner for a form, or an empty fragment."""
    try:
        key, patient_id = _identifiers(request.args)
    except DomainError as exc:
        return envelope_error(exc.message, exc.status)
    draft = service.offer(principal(), patient_id, key)
    nxt = (safe_next(request.args.get("next")) or safe_next(request.headers.get("HX-Current-URL"))
           or safe_next(request.referrer))
    return render_template("drafts/_banner.html", draft=draft, draft_next=nxt)


@bp.get("/", endpoint="index")
def index():
    """My unsaved drafts: the signed-in user's own drafts, newest first."""
    drafts = service.list_for_user(principal())
    patients = patients_reading.patients_by_id(d.patient_id for d in drafts)
    rows = [{"draft": d, "patient": patients.get(d.patient_id), "fields": sum(1 for v in (d.data or {}).values() if v and v != [""]),
             **service.describe(d), **service.time_facts(d)} for d in drafts]
    return render_template("drafts/index.html", rows=rows)
