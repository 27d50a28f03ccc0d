"""Admin page for the clinical option groups: GET /clinical/options (Admin, Faculty).
Add, reorder, retire and restore options per group. Works as plain forms (redirect
with a message) and with HTMX (the list fragment is returned in place)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..auth.guard import principal
from ..doors import is_htmx
from ..errors import DomainError, ValidationError
from ..pages import error_messages
from . import bp
from . import options as svc

ID = "int(max=2147483647)"


def _group_arg(value: str | None) -> str:
    return value if svc.is_known(value) else svc.KNOWN_GROUPS[0]


def _context(group: str, message: str | None = None, category: str = "success", label: str = "") -> dict:
    return {"group": group, "group_name": svc.group_label(group), "rows": svc.options(group, include_inactive=True),
            "groups": [(g, svc.group_label(g)) for g in svc.KNOWN_GROUPS], "message": message,
            "category": category, "label_value": label, "max_label": svc.MAX_LABEL}


@bp.get("/options", endpoint="options")
def options_page():
    group = _group_arg(request.args.get("group"))
    ctx = _context(group)
    if is_htmx() and request.headers.get("HX-Target") == "options-panel":
        return render_template("clinical/_options_list.html", **ctx)
    return render_template("clinical/options.html", **ctx)


def _finish(group: str, message: str, category: str, label: str = ""):
    if is_htmx():
        # htmx does not swap 4xx answers: a refusal is shown in the fragment, answered 200.
        return render_template("clinical/_options_list.html", **_context(group, message, category, label))
    flash(message, category)
    return redirect(url_for("clinical.options", group=group))


def _act(group: str, action, ok_message):
    if not svc.is_known(group):
        return _finish(svc.KNOWN_GROUPS[0], "Unknown option group", "error")
    try:
        row = action()
    except DomainError as exc:
        return _finish(group, exc.message, "error")
    return _finish(group, ok_message(row), "success")


@bp.post("/options/<group>/add", endpoint="options_add")
def options_add(group: str):
    label = request.form.get("label", "")
    if not svc.is_known(group):
        return _finish(svc.KNOWN_GROUPS[0], "Unknown option group", "error")
    try:
        row = svc.add(group, label, principal())
    except ValidationError as exc:
        return _finish(group, error_messages(exc)[0], "error", label=label[:svc.MAX_LABEL])
    except DomainError as exc:  # Conflict: "Option already exists"
        return _finish(group, f"{exc.message}: “{' '.join(label.split())}”.", "error",
                       label=label[:svc.MAX_LABEL])
    return _finish(group, f"Added “{row.option_label}”.", "success")


@bp.post(f"/options/<group>/<{ID}:option_id>/move", endpoint="options_move")
def options_move(group: str, option_id: int):
    direction = request.form.get("direction", "")
    return _act(group, lambda: svc.move(group, option_id, direction, principal()),
                lambda row: f"Moved “{row.option_label}” {direction}.")


@bp.post(f"/options/<group>/<{ID}:option_id>/retire", endpoint="options_retire")
def options_retire(group: str, option_id: int):
    return _act(group, lambda: svc.retire(group, option_id, principal()),
                lambda row: f"Retired “{row.option_label}”: it is no longer offered in the proforma.")


@bp.post(f"/options/<group>/<{ID}:option_id>/restore", endpoint="options_restore")
def options_restore(group: str, option_id: int):
    return _act(group, lambda: svc.restore(group, option_id, principal()),
                lambda row: f"Restored “{row.option_label}”.")
