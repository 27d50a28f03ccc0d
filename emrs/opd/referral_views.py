"""Referral pages: the "Refer" form of a patient (/patients/<id>/refer) and the Referrals
page (/referrals: tabs To me / By me — and All for Admin and welfare officers — a status
filter, and the buttons Mark seen, Complete, Revoke as the referral's rules allow)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth.guard import principal
from ..errors import DomainError, NotFound
from ..extensions import db
from ..pages import form_errors, page_number
from ..patients import reading
from ..submission import once_per_submission
from . import bp, referrals
from .models import REFERRAL_REASON_MAX, REFERRAL_STATUSES

ID = "int(max=2147483647)"
PAGE_SIZE = 25


@bp.get("/referrals", endpoint="referrals")
def referrals_page():
    user = principal()
    try:
        args = referrals.parse_list_args(request.args, user)
    except DomainError:
        args = {"direction": "all" if referrals.sees_all(user) else "to_me", "status": None}
    page = page_number()
    rows, total = referrals.list_referrals(user, args["direction"], args["status"], page, PAGE_SIZE)
    tabs = [("to_me", "To me"), ("by_me", "By me")] + ([("all", "All")] if referrals.sees_all(user) else [])
    return render_template("opd/referrals.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), direction=args["direction"], status=args["status"],
                           tabs=tabs, statuses=("open",) + REFERRAL_STATUSES, users=referrals.people(rows),
                           patients=referrals.patients_of(rows), may_mark=referrals.may_mark,
                           may_revoke=referrals.may_revoke, me=user)


@bp.route(f"/patients/<{ID}:patient_id>/refer", methods=["GET", "POST"], endpoint="refer")
@once_per_submission
def refer(patient_id: int):
    user = principal()
    try:
        info = reading.read_patient(patient_id, audit_action="referral_form_open" if request.method == "GET"
                                    else "patient_view")
    except NotFound:
        abort(404)
    values = {"to_doctor_id": request.form.get("to_doctor_id", ""), "reason": request.form.get("reason", "")}
    errors, message, status = {}, None, 200
    if request.method == "POST":
        try:
            row = referrals.refer(patient_id, values["to_doctor_id"] or None, values["reason"], user)
        except DomainError as exc:
            db.session.rollback()
            by_field, top = form_errors(exc)
            errors = {path: "; ".join(msgs) for path, msgs in by_field.items()}
            message = top[0] if top else None
            status = 422 if exc.status in (400, 409) else exc.status
        else:
            names = referrals.people([row])
            flash(f"Referred to {names[row.to_doctor_id].name}. They will see it under Referrals.", "success")
            return redirect(url_for("patients.show", patient_id=patient_id), code=303)
    return render_template("opd/referral_form.html", patient=info, info=info, values=values, field_errors=errors,
                           message=message, doctors=referrals.doctors_to_refer_to(user),
                           open_referrals=[r for r in referrals.for_patient(patient_id) if r.status in ("pending", "seen")],
                           users=referrals.people(referrals.for_patient(patient_id)),
                           max_reason=REFERRAL_REASON_MAX), status


@bp.post(f"/referrals/<{ID}:referral_id>", endpoint="referral_act")
def referral_act(referral_id: int):
    action = request.form.get("action", "")
    back = url_for("opd.referrals", direction=request.form.get("direction") or None,
                   status=request.form.get("status") or None)
    try:
        row = referrals.act(referral_id, action, principal())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back, code=303)
    flash({"seen": "Marked seen.", "completed": "Marked completed.", "revoked": "Referral revoked."}[row.status],
          "success")
    return redirect(back, code=303)
