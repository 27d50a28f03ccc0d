"""Navigation by role, derived from the permission map so a link is shown only
to those who may follow it."""
from __future__ import annotations

from flask import g, request, url_for

from .permissions import AUTH, PUBLIC, rule_for
from .service import role_matches

# (label, endpoint). Later domains add their entries here.
NAV = [
    ("Dashboard", "dashboard.index"),
    ("Users", "auth.users"),
    ("Audit trail", "audit.index"),
]


def allowed(endpoint: str) -> bool:
    user = getattr(g, "principal", None)
    rule = rule_for(endpoint)
    if rule is None:
        return False
    if rule == PUBLIC:
        return True
    if user is None:
        return False
    return rule == AUTH or role_matches(user.role, rule)


def nav_items() -> list[dict]:
    if getattr(g, "principal", None) is None:
        return []
    items = []
    for label, endpoint in NAV:
        if allowed(endpoint):
            items.append({"label": label, "url": url_for(endpoint),
                          "active": request.endpoint == endpoint or
                          (request.endpoint or "").startswith(endpoint.rsplit(".", 1)[0] + ".user")
                          and endpoint == "auth.users"})
    return items
