"""Rating-scale pages: pick an instrument, fill it by keyboard with the score live (an htmx
fragment scored by the service), the saved assessment with its risk acknowledgement and
confirmation, a patient's scales with their trend charts, the patient page's panel and
timeline entries, and the kiosk: a tablet handed to the patient for one self-report scale.
Who may do what is the service's answer (auth/records.py)."""
from __future__ import annotations


from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import logout_user

from .. import timeline
from ..auth import records
from ..auth import service as auth_service
from ..auth.guard import principal
from ..errors import DomainError
from ..extensions import db
from ..pages import form_errors
from ..patients import reading as patients
from ..submission import once_per_submission
from ..timeutil import as_utc
from ..web import record_or_abort
from . import instruments as catalogue
from . import service
from .models import MAX_ACTION

bp = Blueprint("assessments", __name__)

ID = "int(max=2147483647)"
KIOSK_KEY = "kiosk"
LINKS = ("visit_id", "proforma_id", "followup_id")


def _patient_or_404(patient_id: int, audit_action=None):
    try:
        return patients.get_patient(patient_id, audit_action=audit_action)
    except DomainError:
        abort(404)


def _links() -> dict:
    return {k: request.values.get(k) for k in LINKS if (request.values.get(k) or "").isdecimal()}


def _answers(inst) -> dict:
    """The radio buttons sent (``a-<item id>``) as item id -> value text."""
    return {item.id: request.form[f"a-{item.id}"] for item in inst.items if request.form.get(f"a-{item.id}", "") != ""}


def _render_form(patient, inst, *, answers=None, errors=None, general=None, status=200):
    user = principal()
    clinician = records.may(user, records.READ, records.ASSESSMENT)
    score = None
    if inst is not None and clinician and answers:
        valid = {k: v for k, v in answers.items()
                 if any(str(o.value) == str(v) for o in inst.item(k).options)}  # the bad ones are shown as errors
        score = inst.score(valid, partial=True)
    return render_template(
        "assessments/form.html", patient=patient, patient_info=patients.with_extras([patient])[0],
        picker=service.picker(user, patient.age), inst=inst, answers=answers or {}, links=_links(),
        field_errors=errors or {}, general=general or [], clinician=clinician, score=score), status


@bp.get(f"/patients/<{ID}:patient_id>/assessments/new", endpoint="new")
def new(patient_id: int):
    patient = _patient_or_404(patient_id, audit_action=None)
    code = request.args.get("instrument")
    inst = None
    if code:
        inst = catalogue.get(code)
        if inst is None or not service.may_fill(principal(), inst):
            abort(404)
    from ..audit import service as audit
    audit.record_now("assessment_form_open", "registered_patient", patient.id, patient_id=patient.id,
                     details={"instrument": inst.code if inst else None})
    return _render_form(patient, inst)


@bp.post(f"/patients/<{ID}:patient_id>/assessments/score", endpoint="score")
def score(patient_id: int):
    """The live score fragment (htmx): nothing is stored."""
    inst = catalogue.get(request.form.get("instrument", ""))
    if inst is None:
        abort(404)
    try:
        result = inst.score(_answers(inst), partial=True)
    except catalogue.AnswerError as exc:
        return render_template("assessments/_score.html", inst=inst, score=None,
                               problems=service.answer_errors(exc))
    return render_template("assessments/_score.html", inst=inst, score=result, problems=[])


@bp.post(f"/patients/<{ID}:patient_id>/assessments", endpoint="create")
@once_per_submission
def create(patient_id: int):
    patient = _patient_or_404(patient_id, audit_action=None)
    inst = catalogue.get(request.form.get("instrument", ""))
    if inst is None or not service.may_fill(principal(), inst):
        abort(404)
    answers = _answers(inst)
    data = {"instrument": inst.code, "answers": answers, **_links()}
    user = principal()
    try:
        row = service.create(patient.id, data, user)
    except DomainError as exc:
        db.session.rollback()
        errors, general = form_errors(exc, keep_summary=True)
        return _render_form(patient, inst, answers=answers, errors=errors, general=general,
                            status=422 if exc.status == 400 else exc.status)
    if records.may(user, records.READ, records.ASSESSMENT):
        flash(f"{inst.short_name} saved: {row.total} of {inst.total_max}"
              + (f" ({row.severity})" if row.severity else "") + ".", "success")
        return redirect(url_for("assessments.show", assessment_id=row.id))
    flash(f"{inst.short_name} saved for a clinician to confirm.", "success")
    if row.flags:
        flash("An answer needs a doctor's attention now: tell the doctor before the patient leaves.", "error")
    return redirect(url_for("patients.show", patient_id=patient.id))


@bp.get(f"/patients/<{ID}:patient_id>/assessments", endpoint="index")
def index(patient_id: int):
    patient = _patient_or_404(patient_id, audit_action=None)
    code = request.args.get("instrument") or None
    try:
        rows = service.for_patient(patient.id, principal(), code)
    except DomainError:
        abort(404)
    return render_template("assessments/index.html", patient=patient, patient_info=patients.with_extras([patient])[0],
                           rows=rows[::-1], trends=service.trends(rows, service.medication_history(patient.id)),
                           instrument=catalogue.get(code) if code else None)


def _show(row, *, status=200, errors=None, values=None):
    patient = _patient_or_404(row.patient_id)
    inst = catalogue.get(row.instrument)
    user = principal()
    return render_template("assessments/show.html", a=row, info=service.to_dict(row), inst=inst, patient=patient,
                           patient_info=patients.with_extras([patient])[0], errors=errors or {}, values=values or {},
                           max_action=MAX_ACTION, may_withdraw=row.is_active and records.may(
                               user, records.WITHDRAW, records.ASSESSMENT, row.entered_by)), status


def _refused(row, exc: DomainError, field: str):
    """A refused act on the assessment's page: the page again, the reason beside ``field``, what was typed kept."""
    db.session.rollback()
    errors, general = form_errors(exc, keep_summary=True)
    return _show(row, status=422 if exc.status in (400, 422) else exc.status,
                 errors={**errors, "_general": general}, values={field: request.form.get(field)})


@bp.get(f"/assessments/<{ID}:assessment_id>", endpoint="show")
def show(assessment_id: int):
    return _show(record_or_abort(service.get, assessment_id, principal(), include_withdrawn=True))


@bp.post(f"/assessments/<{ID}:assessment_id>/acknowledge", endpoint="acknowledge")
def acknowledge(assessment_id: int):
    row = record_or_abort(service.get, assessment_id, principal(), audit_read=False)
    try:
        service.acknowledge(row, principal(), request.form.get("action", ""))
    except DomainError as exc:
        return _refused(row, exc, "action")
    flash("Risk item acknowledged; the banner is cleared.", "success")
    return redirect(url_for("assessments.show", assessment_id=row.id))


@bp.post(f"/assessments/<{ID}:assessment_id>/confirm", endpoint="confirm")
def confirm(assessment_id: int):
    row = record_or_abort(service.get, assessment_id, principal(), audit_read=False)
    try:
        service.confirm(row, principal())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash("Self-report confirmed.", "success")
    return redirect(url_for("assessments.show", assessment_id=row.id))


@bp.post(f"/assessments/<{ID}:assessment_id>/withdraw", endpoint="withdraw")
def withdraw(assessment_id: int):
    row = record_or_abort(service.get, assessment_id, principal(), audit_read=False)
    try:
        service.withdraw(row, principal(), request.form.get("reason"))
    except DomainError as exc:
        return _refused(row, exc, "reason")
    flash("Assessment withdrawn (kept, marked).", "success")
    return redirect(url_for("assessments.index", patient_id=row.patient_id))


# ------------------------------------------------------------------ the kiosk

@bp.post(f"/patients/<{ID}:patient_id>/assessments/kiosk", endpoint="kiosk_start")
def kiosk_start(patient_id: int):
    """Hand the tablet over: the staff member's session on this browser ends and the browser
    holds a kiosk session for this patient and this self-report scale only."""
    patient = _patient_or_404(patient_id, audit_action=None)
    user = principal()
    try:
        raw = service.start_kiosk(patient.id, request.form.get("instrument"), user, request.form.get("visit_id"))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message if not exc.errors else exc.errors[0].get("msg") or exc.message, "error")
        return redirect(url_for("assessments.new", patient_id=patient.id))
    row = getattr(g, "web_session", None)
    if row is not None:
        auth_service.revoke_session(row, "kiosk")
        db.session.commit()
    logout_user()
    session.clear()
    session[KIOSK_KEY] = raw
    return redirect(url_for("assessments.kiosk"))


def _kiosk():
    return service.kiosk_for(session.get(KIOSK_KEY))


def _kiosk_ended():
    """No live kiosk session in this browser: forget any stale one, ask for the tablet back."""
    session.pop(KIOSK_KEY, None)
    return render_template("assessments/kiosk_done.html", ended=True), 403


def _kiosk_page(kiosk, *, answers=None, errors=None, status=200):
    inst = catalogue.get(kiosk.instrument)
    return render_template("assessments/kiosk.html", inst=inst, first_name=service.kiosk_patient_label(kiosk),
                           answers=answers or {}, field_errors=errors or {},
                           expires_at=as_utc(kiosk.expires_at), seconds_left=service.kiosk_seconds_left(kiosk)), status


@bp.get("/kiosk", endpoint="kiosk")
def kiosk():
    row = _kiosk()
    return _kiosk_page(row) if row is not None else _kiosk_ended()


@bp.post("/kiosk", endpoint="kiosk_submit")
def kiosk_submit():
    row = _kiosk()
    if row is None:
        return _kiosk_ended()
    inst = catalogue.get(row.instrument)
    answers = _answers(inst)
    try:
        service.kiosk_submit(row, answers)
    except DomainError as exc:
        db.session.rollback()
        errors, _general = form_errors(exc, keep_summary=True)
        return _kiosk_page(row, answers=answers, errors=errors, status=422)
    session.pop(KIOSK_KEY, None)
    return render_template("assessments/kiosk_done.html", ended=False)


@bp.post("/kiosk/end", endpoint="kiosk_end")
def kiosk_end():
    row = _kiosk()
    if row is not None:
        service.end_kiosk(row, "handed_back")
    session.pop(KIOSK_KEY, None)
    return redirect(url_for("auth.login"))


# ------------------------------------------------------------------ the patient page

def _timeline(patient_id: int):
    if not records.may(principal(), records.READ, records.ASSESSMENT):
        return None
    link = timeline.url_maker("assessments.show", "assessment_id")

    def entry(row) -> timeline.TimelineEntry:
        inst = catalogue.get(row.text1)
        name = inst.short_name if inst else row.text1
        flagged = row.text3 not in (None, "", "[]", "null")
        badges = (["risk item"] if flagged else []) + ([] if row.num2 else ["to confirm"])
        return timeline.TimelineEntry(
            kind="assessment", id=row.id, when=timeline.aware(row.at),
            title=f"{name}: {row.num1}" + (f" / {inst.total_max}" if inst else "") + (f" · {row.text2}" if row.text2 else ""),
            summary=f"Rated {row.day:%d %b %Y}", url=link(row.id), badges=badges)
    return entry


timeline.register("assessment", service.timeline_rows, _timeline)
