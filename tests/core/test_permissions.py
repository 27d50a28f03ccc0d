"""The one permission map: every route has an entry, entries name known roles, a route
without one is refused, navigation follows the map. What every route answers to
anonymous and to each role is walked in tests/security/test_route_matrix.py."""
from __future__ import annotations

import pytest

from emrs.auth.models import ROLES
from emrs.auth.permissions import ADMIN_ONLY, AUTH, PERMISSIONS, PUBLIC


def test_every_registered_route_has_an_entry(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = sorted(e for e in endpoints if e not in PERMISSIONS)
    assert missing == [], f"routes without a permission entry: {missing}"
    stale = sorted(e for e in PERMISSIONS if e not in endpoints)
    assert stale == [], f"permission entries without a route: {stale}"


def test_entries_name_only_known_roles():
    for endpoint, rule in PERMISSIONS.items():
        if rule in (PUBLIC, AUTH):
            continue
        assert rule and set(rule) <= set(ROLES), endpoint


@pytest.mark.no_rollback
def test_a_route_missing_from_the_map_is_refused(app):
    from flask import Blueprint

    # A throwaway app with one extra route that has no entry.
    from emrs import create_app
    from ..conftest import make_config
    other = create_app({**make_config("unmapped", database=False), "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"]})
    bp = Blueprint("extra", __name__)
    bp.add_url_rule("/extra", "unmapped", lambda: "secret")
    other.register_blueprint(bp)
    resp = other.test_client().get("/extra")
    assert resp.status_code == 403 and b"secret" not in resp.data


def test_navigation_shows_only_permitted_links(role_client):
    admin = role_client("admin").get("/").get_data(as_text=True)
    resident = role_client("resident").get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in admin and 'href="/audit/"' in admin
    assert 'href="/admin/users"' not in resident and 'href="/audit/"' not in resident


def test_the_menu_and_the_patient_page_ask_the_map(role_client, monkeypatch):
    """Menu entries and the patient page's archive section follow the permission map
    (MENU_ONLY_FOR names the entries kept out of some permitted roles' menus)."""
    from emrs.auth import permissions
    from emrs.patients.models import Patient
    from emrs.extensions import db

    nav = lambda html: html.split('class="mainnav"')[1].split("</nav>")[0]  # noqa: E731
    pid = None
    for role, registers, archives in (("pwo", True, False), ("admin", True, True), ("resident", False, False),
                                      ("faculty", False, False)):
        c = role_client(role)
        assert ('href="/patients/new"' in nav(c.get("/").get_data(as_text=True))) is registers, role
        if pid is None:
            p = Patient(name="Menu Check", sex="F", age=30, cr_no="CRMENU000001", name_key="mn chk")
            db.session.add(p)
            db.session.commit()
            pid = p.id
        page = c.get(f"/patients/{pid}").get_data(as_text=True)
        assert (f'action="/patients/{pid}/archive"' in page) is archives, role
    monkeypatch.setitem(permissions.MENU_ONLY_FOR, "patients.new", frozenset({"Resident"}))
    from flask import current_app
    # Each role's menu is built once from the map (code); this test's menus go when it ends.
    monkeypatch.setitem(current_app.extensions, "emrs.menus", {})
    assert 'href="/patients/new"' in nav(role_client("resident").get("/").get_data(as_text=True))
    monkeypatch.setitem(permissions.PERMISSIONS, "patients.archive", frozenset({"Admin", "Faculty"}))
    assert f'action="/patients/{pid}/archive"' in role_client("faculty").get(f"/patients/{pid}").get_data(as_text=True)


def test_a_public_api_route_answers_a_caller_with_a_token(client, users, bearer):
    """Regression: the public rule was compared as a role list ("p, u, b, l, i, c") once a
    valid token had authenticated the caller, so /api answered 403 to signed-in clients."""
    for path in ("/api", "/api/openapi.json"):
        resp = client.get(path, headers=bearer(users["admin"]))
        assert resp.status_code == 200, (path, resp.get_json())
    body = client.get("/api", headers=bearer(users["pwo"])).get_json()
    assert body["success"] is True and body["message"] == "Welcome to EMRS PGIMER API"


def test_role_check_is_case_insensitive_after_trimming():
    from emrs.auth.service import role_matches
    assert role_matches("  admin ", ADMIN_ONLY)
    assert role_matches("System Administrator", ADMIN_ONLY)  # legacy spelling
    assert not role_matches("Resident", ADMIN_ONLY)
    assert not role_matches(None, ADMIN_ONLY)


def test_a_role_change_changes_the_menu_on_the_next_page(role_client, users):
    """Each role's menu is built once, but whose menu a page shows is read from the signed-in
    user's row on every request: an Admin making a Resident a PWO changes the next page."""
    from emrs.auth.models import PWO
    from emrs.extensions import db

    nav = lambda html: html.split('class="mainnav"')[1].split("</nav>")[0]  # noqa: E731
    c = role_client("resident")
    before = nav(c.get("/").get_data(as_text=True))
    assert 'href="/patients/new"' not in before
    users["resident"].role, users["resident"].grade = PWO, None
    db.session.commit()
    after = nav(c.get("/").get_data(as_text=True))
    assert 'href="/patients/new"' in after
