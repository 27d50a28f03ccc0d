"""Navigation by role, derived from the permission map so a link is shown only
to those who may follow it."""
from __future__ import annotations

from flask import current_app, g, request, url_for

from .permissions import AUTH, PUBLIC, in_menu_of, rule_for
from .service import role_matches

# (label, endpoint). Later domains add their entries here.
NAV = [
    ("Dashboard", "dashboard.index"),
    ("Patients", "patients.index"),
    ("Today's patients", "opd.today"),
    ("Counter", "opd.counter"),
    ("Register", "patients.new"),
    ("Register a child", "children.new"),
    ("Proformas", "clinical.proformas"),
    ("Record room", "intake.record_room"),
    ("Referrals", "opd.referrals"),
    ("Rooms", "opd.rooms"),
    ("Users", "auth.users"),
    ("Audit trail", "audit.index"),
    ("Withdrawn", "clinical.withdrawn"),
]


def allowed(endpoint: str) -> bool:
    if endpoint in current_app.config.get("EMRS_DISABLED_ENDPOINTS", ()):
        return False  # a service this process does not run (EMRS_SERVICES)
    user = getattr(g, "principal", None)
    rule = rule_for(endpoint)
    if rule is None:
        return False
    if rule == PUBLIC:
        return True
    if user is None:
        return False
    return rule == AUTH or role_matches(user.role, rule)


def _active(endpoint: str) -> bool:
    current = request.endpoint or ""
    if current == endpoint:
        return True
    if endpoint == "auth.users":
        return current.startswith("auth.user")
    if endpoint == "clinical.proformas":
        return current.startswith("clinical.proforma")
    if endpoint == "opd.today":
        return current.startswith("opd.today") or current == "opd.pick_room"
    if endpoint == "opd.counter":
        return current.startswith("opd.counter") or current == "opd.slip_page"
    if endpoint == "patients.index":  # the patient pages belong to "Patients"
        return current.startswith("patients.") and current not in ("patients.new",
                                                                    "patients.stats")
    return False


def _menu(role: str) -> tuple[tuple[str, str, str], ...]:
    """(label, endpoint, url) of the menu entries ``role`` may follow. It depends only on the
    role, the permission map (code), the endpoints this process disables and where the
    application is mounted, so each application keeps it per (role, mount point, disabled
    endpoints); the role itself is still read from the request's user on every request."""
    cache = current_app.extensions.setdefault("emrs.menus", {})
    key = (role, request.script_root, tuple(current_app.config.get("EMRS_DISABLED_ENDPOINTS", ())))
    menu = cache.get(key)
    if menu is None:
        menu = tuple((label, endpoint, url_for(endpoint)) for label, endpoint in NAV
                     if in_menu_of(endpoint, role) and allowed(endpoint))
        if len(cache) < 256:  # roles are a handful: never grows without bound
            cache[key] = menu
    return menu


def nav_items() -> list[dict]:
    if getattr(g, "principal", None) is None:
        return []
    return [{"label": label, "url": url, "active": _active(endpoint)}
            for label, endpoint, url in _menu(g.principal.role)]
