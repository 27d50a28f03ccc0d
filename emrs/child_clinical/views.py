"""Child walk-in proforma pages: the 15-section form (autosaved drafts, ICD picker, 409 on a
stale save, amend with reason), the read-only printable page, the timeline entry."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth import records, users
from ..auth.guard import principal
from ..drafts import service as drafts
from ..errors import Conflict, DomainError
from ..extensions import db
from ..pages import form_errors
from ..patients import reading as patients
from ..patients import visits
from ..submission import once_per_submission
from ..timeutil import today_ist
from ..web import record_or_abort
from . import bp, service, spec

ID = "int(max=2147483647)"
COLUMN_FIELDS = ("visit_date", "room_no", "assigned_doctor", "provisional_diagnosis", "icd_code", "icd_title",
                 "icd_system", "pharmacological_treatment", "referred_to")


def _form_data(form) -> dict:
    data = {}
    for name, kind in spec.FIELDS.items():
        if kind[0] == "multi":
            data[name] = form.getlist(name)
        elif name in form:
            data[name] = form.get(name)
    for name in COLUMN_FIELDS:
        if name in form:
            data[name] = form.get(name)
    data["status"] = "submitted"  # the page saves a finished proforma; unfinished work is the draft
    return data


def _values(src) -> dict:
    """What the template shows: lists for the option groups, strings elsewhere."""
    if not isinstance(src, dict):
        src = service.flat(src)
    out = {}
    for name, kind in spec.FIELDS.items():
        v = src.get(name)
        if kind[0] == "multi":
            out[name] = [x for x in (v if isinstance(v, list) else [v] if isinstance(v, str) and v else [])
                         if isinstance(x, str)]
        elif isinstance(v, bool):
            out[name] = "true" if v else "false"
        else:
            out[name] = "" if v is None else str(v)
    for name in COLUMN_FIELDS:
        v = src.get(name)
        out[name] = "" if v is None else str(v)
    return out


def _render(patient, proforma, values, *, errors=None, general=None, status=200, draft=None, draft_key=None,
            version=None, conflict=False):
    return render_template(
        "child_clinical/form.html", patient=patient, proforma=proforma, values=values, field_errors=errors or {},
        general=general or [], spec=spec, doctors=users.active_doctors(), draft=draft, draft_key=draft_key,
        conflict=conflict, version=version if version is not None else (proforma.version if proforma else None),
        reason_required=proforma is not None and records.reason_required(principal(), proforma.author_id),
        patient_info=patients.with_extras([patient])[0]), status


def _patient_or_404(patient_id: int):
    try:
        return patients.get_patient(patient_id, audit_action=None)
    except DomainError:
        abort(404)


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
@once_per_submission
def new():
    raw = request.values.get("patient_id", "")
    if not raw.isdecimal() or len(raw) > 9:
        abort(404)
    patient = _patient_or_404(int(raw))
    if patient.clinic != "child":
        flash("This patient is registered in the adult clinic: the walk-in proforma is the adult one.", "info")
        return redirect(url_for("clinical.proforma_new", patient_id=patient.id))
    user = principal()
    key = "child_proforma:new"
    if request.method == "POST":
        data = _form_data(request.form)
        data["child_patient_id"] = patient.id
        try:
            row = service.create(data, user)
        except DomainError as exc:
            db.session.rollback()
            errors, general = form_errors(exc, keep_summary=True)
            return _render(patient, None, _values(data), errors=errors, general=general, status=422, draft_key=key)
        drafts.discard(user, patient.id, key, reason="submitted")
        flash("Child walk-in proforma saved.", "success")
        return redirect(url_for("child_clinical.show", proforma_id=row.id))
    from ..audit import service as audit
    audit.record_now("child_proforma_form_open", "registered_patient", patient.id, patient_id=patient.id)
    existing = service.today_for(patient.id)
    if existing is not None and request.args.get("another") != "1":
        return redirect(url_for("child_clinical.edit", proforma_id=existing.id))
    draft = drafts.offer(user, patient.id, key)
    values = _values(draft["data"]) if draft else _values({})
    if not values.get("visit_date"):
        values["visit_date"] = today_ist().isoformat()
    if not values.get("age") and patient.age is not None:
        values["age"] = str(patient.age)  # the registered age, not an age-group midpoint
    visit = visits.visit_on(patient.id, today_ist())
    if visit is not None and not values.get("room_no"):
        values["room_no"] = visit.room_no or ""
    if not values.get("assigned_doctor") and user.role in ("Faculty", "Resident"):
        values["assigned_doctor"] = str(user.id)
    return _render(patient, None, values, draft=draft, draft_key=key)


@bp.route(f"/<{ID}:proforma_id>/edit", methods=["GET", "POST"], endpoint="edit")
def edit(proforma_id: int):
    row = record_or_abort(service.get, proforma_id, principal(), audit_read=request.method == "GET")
    patient = _patient_or_404(row.patient_id)
    user = principal()
    if not service.may_edit(row, user):
        flash(records.message(user, records.AMEND, records.PROFORMA), "error")
        return redirect(url_for("child_clinical.show", proforma_id=row.id))
    key = f"child_proforma:edit:{row.id}"
    if request.method == "POST":
        data = _form_data(request.form)
        data["change_reason"] = request.form.get("change_reason")
        version = request.form.get("version")
        try:
            service.update(row, data, user, expected_version=version or row.version)
        except Conflict as exc:
            db.session.rollback()
            return _render(patient, row, _values(data), general=[exc.message], status=409, draft_key=key,
                           version=version, conflict=True)
        except DomainError as exc:
            db.session.rollback()
            errors, general = form_errors(exc, keep_summary=True)
            return _render(patient, row, _values(data), errors=errors, general=general, status=422, draft_key=key,
                           version=version)
        drafts.discard(user, patient.id, key, reason="submitted")
        flash("Child proforma saved.", "success")
        return redirect(url_for("child_clinical.show", proforma_id=row.id))
    draft = drafts.offer(user, patient.id, key)
    return _render(patient, row, _values(draft["data"]) if draft else _values(row), draft=draft, draft_key=key)


@bp.get(f"/<{ID}:proforma_id>", endpoint="show")
def show(proforma_id: int):
    row = record_or_abort(service.get, proforma_id, principal())
    patient = _patient_or_404(row.patient_id)
    from ..prescriptions import service as rx
    return render_template("child_clinical/show.html", p=row, info=service.one(row), patient=patient,
                           patient_info=patients.with_extras([patient])[0], spec=spec,
                           rx=rx.for_proforma(row.id), can_edit=service.may_edit(row, principal()),
                           scales=_scales_of(row.id))


def _scales_of(proforma_id: int):
    """The rating scales scored from this proforma (readers of scores only: the service decides)."""
    from ..assessments import service as assessments
    return assessments.linked_to(principal(), proforma_id=proforma_id)


def _draft_url(draft):
    if draft.form_key == "child_proforma:new" and draft.patient_id:
        return url_for("child_clinical.new", patient_id=draft.patient_id)
    if draft.form_key.startswith("child_proforma:edit:"):
        return url_for("child_clinical.edit", proforma_id=int(draft.form_key.rsplit(":", 1)[1]))
    return None


drafts.register_form("child_proforma", "Child walk-in proforma", _draft_url)
