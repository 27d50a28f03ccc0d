"""Walk-in proforma pages: the form (autosaved drafts, pre-fill, ICD picker, 409 on a
stale save), the read-only printable page, lists and the timeline entry."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from .. import timeline
from ..auth.guard import principal
from ..auth import users
from ..drafts import service as drafts
from ..auth import records
from ..errors import Conflict, DomainError
from ..web import record_or_abort
from ..extensions import db
from ..patients import reading as patients
from ..patients import visits
from ..pages import form_errors, page_number
from ..submission import once_per_submission
from ..timeutil import today_ist
from . import bp, icd, options, service

ID = "int(max=2147483647)"
PAGE = 20

SECTIONS = [
    ("informant", "Informant"),
    ("onset", "Onset and course"),
    ("complaints", "Complaints"),
    ("history", "Additional history"),
    ("mse", "Mental status examination"),
    ("gpe", "General physical examination"),
    ("diagnosis", "Diagnosis"),
    ("disposal", "Disposal"),
    ("decision", "Decision"),
]
COMPLAINT_GROUPS = ("mood", "behaviour", "speech", "thought", "perception", "somatic", "bio_functions",
                    "adjustment", "cognitive_function", "fits", "sexual_problem", "substance_use")
MSE_GROUPS = ("mse_behaviour", "mse_affect", "mse_thought", "mse_perception", "mse_cognitive_function")


def _form_data(form) -> dict:
    """The page form as the service's input: checkbox groups + their 'Other' box."""
    data = {}
    for name in service.FIELDS:
        if name in service.MULTI:
            labels = form.getlist(name)
            other = (form.get(f"{name}__other") or "").strip()
            labels += [x.strip() for x in other.split(",") if x.strip()]
            data[name] = labels
        elif name in form:
            data[name] = form.get(name)
    return data


def _values_for_form(row_or_dict) -> dict:
    """What the template shows: lists for the groups, strings elsewhere."""
    if isinstance(row_or_dict, dict):
        src = row_or_dict
        get = src.get
    else:
        get = lambda n: getattr(row_or_dict, n, None)  # noqa: E731
    out = {}
    for name in service.FIELDS:
        v = get(name)
        if name in service.MULTI:
            if isinstance(v, list):
                out[name] = [x for x in v if isinstance(x, str)]
            else:
                out[name] = service.split_labels(v)
            other = get(f"{name}__other") if isinstance(row_or_dict, dict) else None
            if isinstance(other, list):
                other = ", ".join(other)
            if other:
                out[name] += service.split_labels(other)
        elif isinstance(v, bool):
            out[name] = "true" if v else "false"
        elif v is None:
            out[name] = ""
        else:
            out[name] = v.isoformat() if hasattr(v, "isoformat") else (v[0] if isinstance(v, list) and v else v)
    return out


def _doctors():
    return users.active_doctors()


def _render_form(patient, proforma, values, *, errors=None, general=None, status=200, draft=None, draft_key=None,
                 previous=None, version=None, conflict=False):
    return render_template(
        "clinical/proforma_form.html", patient=patient, proforma=proforma, values=values,
        field_errors=errors or {}, general=general or [], groups=options.groups(), sections=SECTIONS,
        complaint_groups=COMPLAINT_GROUPS, mse_groups=MSE_GROUPS, group_label=options.group_label,
        choices=service.CHOICES, onset_labels=service.ONSET_LABELS, doctors=_doctors(), draft=draft,
        draft_key=draft_key, draft_patient=patient.id, previous=previous, conflict=conflict,
        version=version if version is not None else (proforma.version if proforma else None),
        reason_required=proforma is not None and records.reason_required(principal(), proforma.author_id),
        patient_info=patients.with_extras([patient])[0]), status


def _proforma_or_abort(proforma_id: int, **kwargs):
    """The proforma for this page: 404 when there is none, 403 when the user may not read it."""
    return record_or_abort(service.get, proforma_id, principal(), **kwargs)


def _patient_or_404(patient_id, audit_action="patient_view"):
    try:
        return patients.get_patient(patient_id, audit_action=audit_action)
    except DomainError:
        abort(404)


@bp.route("/proformas/new", methods=["GET", "POST"], endpoint="proforma_new")
@once_per_submission  # a second POST of the same form lands on the proforma the first one saved
def proforma_new():
    raw = request.values.get("patient_id", "")
    if not raw.isdecimal() or len(raw) > 9:
        abort(404)
    patient = _patient_or_404(int(raw), audit_action=None)
    if patient.clinic == "child":  # a child is seen on the child walk-in form
        return redirect(url_for("child_clinical.new", patient_id=patient.id), code=307 if request.method == "POST" else 302)
    user = principal()
    key = "proforma:new"
    previous = service.last_for_patient(patient.id)
    if request.method == "POST":
        data = _form_data(request.form)
        data["patient_id"] = patient.id
        try:
            proforma, record, _rx = service.create(data, user)
        except DomainError as exc:
            errors, general = form_errors(exc, keep_summary=True)
            return _render_form(patient, None, _values_for_form(data), errors=errors, general=general, status=422,
                                draft_key=key, previous=previous)
        drafts.discard(user, patient.id, key, reason="submitted")
        flash("Walk-in proforma saved" + (f"; intake record {record.adl_no} is ready for the detailed work-up."
                                          if record is not None else "."), "success")
        return redirect(url_for("clinical.proforma_show", proforma_id=proforma.id))
    from ..audit import service as audit
    audit.record_now("proforma_form_open", "registered_patient", patient.id, patient_id=patient.id)
    draft = drafts.offer(user, patient.id, key)
    if draft:
        values = _values_for_form(draft["data"])
    elif request.args.get("prefill") == "1" and previous is not None:
        values = _values_for_form(service.prefill_from(previous))
        values["visit_type"] = "follow_up"
        flash(f"Started from the proforma of {previous.visit_date.strftime('%d %b %Y')}: check every section.", "info")
    else:
        values = _values_for_form({})
    if not values.get("visit_date"):
        values["visit_date"] = today_ist().isoformat()
    if not values.get("informant_present"):
        values["informant_present"] = "true"
    visit = visits.visit_on(patient.id, today_ist())
    if visit is not None:
        values.setdefault("room_no", visit.room_no or "")
        if not values.get("room_no"):
            values["room_no"] = visit.room_no or ""
        if not values.get("visit_type"):
            values["visit_type"] = visit.visit_type
    return _render_form(patient, None, values, draft=draft, draft_key=key, previous=previous)


@bp.route(f"/proformas/<{ID}:proforma_id>/edit", methods=["GET", "POST"], endpoint="proforma_edit")
def proforma_edit(proforma_id: int):
    row = _proforma_or_abort(proforma_id, audit_read=request.method == "GET")
    if row.form == "child":  # a child's walk-in proforma has its own form
        return redirect(url_for("child_clinical.edit", proforma_id=row.id), code=303 if request.method == "POST" else 302)
    patient = _patient_or_404(row.patient_id, audit_action=None)
    user = principal()
    if not service.may_edit(row, user):
        flash(records.message(user, records.AMEND, records.PROFORMA), "error")
        return redirect(url_for("clinical.proforma_show", proforma_id=row.id))
    key = f"proforma:edit:{row.id}"
    if request.method == "POST":
        data = _form_data(request.form)
        data["change_reason"] = request.form.get("change_reason")
        version = request.form.get("version")
        try:
            service.update(row, data, user, expected_version=version or row.version)
        except Conflict as exc:
            db.session.rollback()
            return _render_form(patient, row, _values_for_form(data), general=[exc.message], status=409,
                                draft_key=key, version=version, conflict=True)
        except DomainError as exc:
            db.session.rollback()
            errors, general = form_errors(exc, keep_summary=True)
            return _render_form(patient, row, _values_for_form(data), errors=errors, general=general, status=422,
                                draft_key=key, version=version)
        drafts.discard(user, patient.id, key, reason="submitted")
        flash("Proforma saved.", "success")
        return redirect(url_for("clinical.proforma_show", proforma_id=row.id))
    draft = drafts.offer(user, patient.id, key)
    values = _values_for_form(draft["data"]) if draft else _values_for_form(row)
    return _render_form(patient, row, values, draft=draft, draft_key=key)


def _scales_of(**record):
    from ..assessments import service as assessments
    return assessments.linked_to(principal(), **record)


@bp.get(f"/proformas/<{ID}:proforma_id>", endpoint="proforma_show")
def proforma_show(proforma_id: int):
    row = _proforma_or_abort(proforma_id, audit_read=False)
    if row.form == "child":  # Today's Patients, the timeline and prescriptions link here for every proforma
        return redirect(url_for("child_clinical.show", proforma_id=row.id))
    from ..audit import service as audit
    audit.record_now("proforma_view", "clinical_proforma", row.id, patient_id=row.patient_id)
    patient = _patient_or_404(row.patient_id, audit_action=None)
    info = service.proforma_dict(row)
    from ..intake.models import IntakeRecord
    record = db.session.get(IntakeRecord, row.adl_file_id) if row.adl_file_id else None
    from ..prescriptions import service as rx
    return render_template("clinical/proforma_show.html", p=row, info=info, patient=patient,
                           patient_info=patients.with_extras([patient])[0], record=record,
                           rx=rx.for_proforma(row.id), groups_label=options.group_label, split=service.split_labels,
                           onset_labels=service.ONSET_LABELS, can_edit=service.may_edit(row, principal()),
                           complaint_groups=COMPLAINT_GROUPS, mse_groups=MSE_GROUPS,
                           versions=_versions(row), not_in_release=icd.NOT_IN_RELEASE,
                           scales=_scales_of(proforma_id=row.id))


def _versions(row) -> list[dict]:
    """The proforma's versions for its page, newest first: who, when (IST), why, and for each
    earlier version the fields the next one changed, with the values they had."""
    if row.version <= 1:
        return []
    import datetime as dt
    from ..timeutil import ist_text
    history = service.version_history(row)
    out = []
    for i, v in enumerate(history):
        nxt = history[i + 1]["fields"] if i + 1 < len(history) else None
        changed = [(k, v["fields"].get(k)) for k in service.SNAPSHOT
                   if nxt is not None and k != "change_reason" and v["fields"].get(k) != nxt.get(k)]
        when = ist_text(dt.datetime.fromisoformat(v["authored_at"]), "%d %b %Y, %H:%M") + " IST" \
            if v["authored_at"] else ""
        out.append({**v, "when": when, "changed": changed})
    return out[::-1]


@bp.get(f"/proformas/<{ID}:proforma_id>/summary", endpoint="proforma_summary")
def proforma_summary(proforma_id: int):
    row = _proforma_or_abort(proforma_id)
    return render_template("clinical/_proforma_summary.html", p=row, split=service.split_labels,
                           group_label=options.group_label, complaint_groups=COMPLAINT_GROUPS)


@bp.get("/proformas", endpoint="proformas")
def proformas():
    user = principal()
    filters, errors = service.parse_filters(request.args)
    view = request.args.get("view", "")
    if view == "mine":
        filters["filled_by"] = user.id
    elif view == "complex":
        filters["doctor_decision"] = "complex_case"
    page = page_number()
    rows, total = ([], 0) if errors else service.list_proformas(filters, page, PAGE, user)
    return render_template("clinical/proformas.html", items=service.proforma_dicts(rows), total=total, page=page,
                           pages=max(1, -(-total // PAGE)), filters=filters, view=view, args=request.args,
                           errors=[e["msg"] for e in errors], doctors=_doctors())


# ------------------------------------------------------------------ timeline entries

def _timeline(patient_id: int):
    from ..auth.navigation import allowed
    readable = records.reads_all(principal(), records.PROFORMA)  # a welfare officer sees no diagnosis
    linkable = allowed("clinical.proforma_show") and readable
    show = timeline.url_maker("clinical.proforma_show", "proforma_id") if linkable else None
    summary = timeline.url_maker("clinical.proforma_summary", "proforma_id") if linkable else None

    def entry(p) -> timeline.TimelineEntry:
        return timeline.TimelineEntry(
            kind="proforma", id=p.id, when=timeline.aware(p.at),
            title=f"Walk-in proforma · {p.day.strftime('%d %b %Y')}",
            summary=" · ".join(x for x in [p.text1, p.text2 or None] if x) if readable else "",
            url=show(p.id) if show else None,
            detail_url=summary(p.id) if summary else None,
            badges=["complex" if p.text3 == "complex_case" else "simple"])
    return entry


timeline.register("proforma", service.timeline_rows, _timeline)


def _draft_url(draft):
    if draft.form_key == "proforma:new" and draft.patient_id:
        return url_for("clinical.proforma_new", patient_id=draft.patient_id)
    if draft.form_key.startswith("proforma:edit:"):
        return url_for("clinical.proforma_edit", proforma_id=int(draft.form_key.rsplit(":", 1)[1]))
    return None


drafts.register_form("proforma", "Walk-in clinical proforma", _draft_url)


# ------------------------------------------------------------------ statistics

@bp.get("/proformas/stats", endpoint="proforma_stats")
def proforma_stats():
    from .. import charts
    period = request.args.get("period", "week")
    if period not in service.PERIODS:
        period = "week"
    raw_user = request.args.get("user_id", "")
    user_id = int(raw_user) if raw_user.isdecimal() and len(raw_user) < 10 else None
    decisions = service.decision_stats(user_id)
    trends = service.visit_trends(period, user_id)
    key = {"day": "date", "week": "week_start", "month": "month_start"}[period]
    import datetime as _dt
    fmt = {"day": "%d %b", "week": "%d %b", "month": "%b %Y"}[period]
    series = [(_dt.date.fromisoformat(t[key]).strftime(fmt), t["count"]) for t in trends]
    names = {"simple_case": "Simple", "complex_case": "Complex"}
    mix = [(names[d["doctor_decision"]], d["count"]) for d in decisions]
    title = {"day": "Proformas per day, last 7 days", "week": "Proformas per week, last 7 weeks",
             "month": "Proformas per month, last 12 months"}[period]
    return render_template(
        "clinical/proforma_stats.html", period=period, user_id=user_id, doctors=_doctors(), mix=mix,
        series=series, total=sum(n for _, n in mix),
        mix_chart=charts.donut_or_bars(mix, title="Decision mix: simple and complex cases", chart_id="chart-mix"),
        trend_chart=charts.bar_chart(series, title=title, horizontal=False, chart_id="chart-trend",
                                     x_label={"day": "Day", "week": "Week starting", "month": "Month"}[period],
                                     y_label="Proformas"))
