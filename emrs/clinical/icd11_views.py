"""The ICD-11 tree as pages:

* GET /clinical/icd11 — chapters → blocks → categories, expanded in place (HTMX fragments of
  GET /clinical/icd11/<id>/children); with ``pick=1`` (inside the proforma's ICD picker) every
  code is a button that fills the proforma's code, as a search result does. Clinicians and Admin.
* Local additions, Admin only: add a child under an entry, edit or deactivate/reactivate a local
  entry. WHO's entries are never editable.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..auth.guard import principal
from ..auth.navigation import allowed
from ..doors import is_htmx
from ..errors import DomainError, NotFound
from ..pages import form_errors
from ..extensions import db
from ..submission import once_per_submission
from . import bp, icd11
from .models import ICD11_LOCAL_TITLE_MAX

ID = "int(max=2147483647)"


def _pick() -> bool:
    return request.args.get("pick") == "1"


def _is_admin() -> bool:
    """May this user make local additions (the permission map's rule, not a role name)?"""
    return allowed("clinical.icd11_local_new")


def _nodes_context(rows, pick: bool) -> dict:
    return {"nodes": rows, "counts": icd11.child_counts(r.id for r in rows), "pick": pick,
            "admin": _is_admin() and not pick}


@bp.get("/icd11", endpoint="icd11_browse")
def icd11_browse():
    pick = _pick()
    ctx = _nodes_context(icd11.roots(), pick)
    if is_htmx():
        return render_template("clinical/_icd11_nodes.html", **ctx)
    return render_template("clinical/icd11.html", releases=icd11.releases(),
                           local=icd11.local_entries() if ctx["admin"] else [], **ctx)


@bp.get(f"/icd11/<{ID}:entity_id>/children", endpoint="icd11_children")
def icd11_children(entity_id: int):
    pick = _pick()
    try:
        parent = icd11.get(entity_id)
    except NotFound:
        return render_template("clinical/_icd11_nodes.html", nodes=[], counts={}, pick=pick, admin=False,
                               missing=True), 404
    rows = icd11.children(parent, include_inactive_local=_is_admin() and not pick)
    return render_template("clinical/_icd11_nodes.html", **_nodes_context(rows, pick))


def _form(parent, row, values: dict, errors: dict | None = None, message: str | None = None, status: int = 200):
    return render_template("clinical/icd11_local_form.html", parent=parent, row=row, values=values,
                           path=icd11.path(parent) + [parent] if parent is not None else [],
                           field_errors=errors or {}, message=message, max_title=ICD11_LOCAL_TITLE_MAX), status


def _refused(exc: DomainError, parent, row, values: dict):
    """The form again after a refusal: field errors beside their fields, or one message for
    the whole form (nothing of the refused request stays in the session)."""
    db.session.rollback()
    by_field, top = form_errors(exc)
    errors = {path: "; ".join(msgs) for path, msgs in by_field.items()}
    return _form(parent, row, {k: v[:400] for k, v in values.items()}, errors, top[0] if top else None,
                 status=422 if errors or exc.status == 400 else exc.status)


@bp.route(f"/icd11/<{ID}:entity_id>/local", methods=["GET", "POST"], endpoint="icd11_local_new")
@once_per_submission  # a double click adds one entry
def icd11_local_new(entity_id: int):
    parent = icd11.get_or_none(entity_id)
    if parent is None:
        flash("That ICD-11 entry does not exist.", "error")
        return redirect(url_for("clinical.icd11_browse"))
    if request.method == "GET":
        return _form(parent, None, {"title": "", "code": ""})
    values = {"title": request.form.get("title", ""), "code": request.form.get("code", "")}
    try:
        row = icd11.add_local(parent.id, values["title"], values["code"], principal())
    except DomainError as exc:
        return _refused(exc, parent, None, values)
    flash(f"Added the local entry “{row.title}” under “{parent.title}”.", "success")
    return redirect(url_for("clinical.icd11_browse") + f"#icd11-{row.id}", code=303)


@bp.route(f"/icd11/local/<{ID}:entity_id>/edit", methods=["GET", "POST"], endpoint="icd11_local_edit")
def icd11_local_edit(entity_id: int):
    row = icd11.get_or_none(entity_id)
    if row is None or row.source != "local":
        flash("Only the hospital's local additions can be edited; WHO's entries never are.", "error")
        return redirect(url_for("clinical.icd11_browse"))
    parent = icd11.get_or_none(row.parent_id) if row.parent_id else None
    if request.method == "GET":
        return _form(parent, row, {"title": row.title, "code": row.code or ""})
    values = {"title": request.form.get("title", ""), "code": request.form.get("code", "")}
    try:
        icd11.update_local(row.id, values, principal())
    except DomainError as exc:
        return _refused(exc, parent, row, values)
    flash(f"Saved the local entry “{row.title}”.", "success")
    return redirect(url_for("clinical.icd11_browse") + f"#icd11-{row.id}", code=303)


@bp.post(f"/icd11/local/<{ID}:entity_id>/active", endpoint="icd11_local_active")
def icd11_local_active(entity_id: int):
    active = request.form.get("active", "")
    if active not in ("0", "1"):
        flash("Say whether the entry is to be deactivated or reactivated.", "error")
        return redirect(url_for("clinical.icd11_browse"))
    try:
        row, n = icd11.set_active(entity_id, active == "1", principal())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("clinical.icd11_browse"))
    if active == "1":
        flash(f"Reactivated “{row.title}”.", "success")
    else:
        flash(f"Deactivated “{row.title}”" + (f" and {n - 1} local entr{'y' if n == 2 else 'ies'} under it"
                                               if n > 1 else "") + ": no longer offered for coding.", "success")
    return redirect(url_for("clinical.icd11_browse") + f"#icd11-{row.id}", code=303)
