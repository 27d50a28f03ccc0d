"""Formulary pages: the admin list GET /prescriptions/formulary (Admin, Faculty) with
add / retire / restore, and the medicine picker's results fragment
GET /prescriptions/medicines/search?q= (Admin, Faculty, Resident; static/js/medicine-picker.js).
The admin forms work as plain forms (redirect with a message) and with HTMX (the list
section is returned in place)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..auth.guard import principal
from ..doors import is_htmx
from ..errors import DomainError, ValidationError
from ..pages import error_messages
from . import bp
from . import formulary as svc

ID = "int(max=2147483647)"
MIN_QUERY = 1
PICKER_LIMIT = 12


def _filter() -> str:
    return " ".join((request.values.get("filter") or "").split())[:100]


def _rows(term: str):
    rows = svc.list_all(include_retired=True)
    if term:
        low = term.lower()
        rows = [m for m in rows if low in m.generic_name.lower() or low in (m.drug_class or "").lower()
                or any(low in b.lower() for b in [*(m.brand_names or []), *(m.aliases or [])])]
    return rows


def _context(message: str | None = None, category: str = "success", form: dict | None = None) -> dict:
    term = _filter()
    rows = _rows(term)
    return {"rows": rows, "term": term, "message": message, "category": category, "form": form or {},
            "active_count": sum(1 for m in rows if m.is_active), "max_generic": svc.MAX_GENERIC,
            "max_class": svc.MAX_CLASS,
            "classes": sorted({m.drug_class for m in svc.list_all(include_retired=True) if m.drug_class})}


@bp.get("/formulary", endpoint="formulary")
def formulary_page():
    ctx = _context()
    if is_htmx() and request.headers.get("HX-Target") == "formulary-panel":
        return render_template("prescriptions/_formulary_list.html", **ctx)
    return render_template("prescriptions/formulary.html", **ctx)


def _finish(message: str, category: str, form: dict | None = None):
    if is_htmx():
        # htmx does not swap 4xx answers: a refusal is shown in the fragment, answered 200.
        return render_template("prescriptions/_formulary_list.html", **_context(message, category, form))
    flash(message, category)
    term = _filter()
    return redirect(url_for("prescriptions.formulary", **({"filter": term} if term else {})))


@bp.post("/formulary/add", endpoint="formulary_add")
def formulary_add():
    form = {k: request.form.get(k, "")[:2000] for k in ("generic_name", "drug_class", "brand_names", "strengths",
                                                         "forms")}
    try:
        row = svc.add(form["generic_name"], form["drug_class"], form["brand_names"], form["strengths"], principal(),
                      forms=form["forms"])
    except ValidationError as exc:
        return _finish(error_messages(exc)[0], "error", form)
    except DomainError as exc:  # Conflict: "Medicine already exists"
        return _finish(f"{exc.message}: “{' '.join(form['generic_name'].split())}”.", "error", form)
    return _finish(f"Added “{row.generic_name}”.", "success")


def _act(action, ok_message):
    try:
        row = action()
    except DomainError as exc:
        return _finish(exc.message, "error")
    return _finish(ok_message(row), "success")


@bp.post(f"/formulary/<{ID}:medicine_id>/retire", endpoint="formulary_retire")
def formulary_retire(medicine_id: int):
    return _act(lambda: svc.retire(medicine_id, principal()),
                lambda row: f"Retired “{row.generic_name}”: the medicine picker no longer offers it.")


@bp.post(f"/formulary/<{ID}:medicine_id>/restore", endpoint="formulary_restore")
def formulary_restore(medicine_id: int):
    return _act(lambda: svc.restore(medicine_id, principal()), lambda row: f"Restored “{row.generic_name}”.")


@bp.get("/medicines/search", endpoint="medicine_search")
def medicine_search():
    """The picker's options. The query comes as ``q`` or as the input's own name
    (``medicine``, ``lines-0-medicine`` ...: htmx sends the triggering input's value)."""
    raw = request.args.get("q")
    if raw is None:
        raw = next((v for k, v in request.args.items() if k.endswith("medicine")), "")
    term = " ".join((raw or "").split())[:100]
    results = svc.search(term, limit=PICKER_LIMIT) if len(term) >= MIN_QUERY else []
    return render_template("prescriptions/_medicine_results.html", term=term, results=results)
