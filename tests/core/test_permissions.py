"""The one permission map: every route has an entry, and anonymous users and each
role get the right answer from every page and API route of this issue."""
from __future__ import annotations

import pytest

from emrs.auth.models import ROLES
from emrs.auth.permissions import ADMIN_ONLY, AUTH, PERMISSIONS, PUBLIC

from ..conftest import ROLE_KEYS


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


PAGES = [  # (path, rule)
    ("/", AUTH),
    ("/profile", AUTH),
    ("/profile/password", AUTH),
    ("/profile/authenticator", AUTH),
    ("/admin/users", ADMIN_ONLY),
    ("/admin/users/new", ADMIN_ONLY),
    ("/audit/", ADMIN_ONLY),
]


def test_anonymous_pages_redirect_to_login(client):
    for path, _rule in PAGES:
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert resp.headers["Location"].startswith("/login?next="), path
    assert client.get("/login").status_code == 200
    assert client.get("/forgot-password").status_code == 200


@pytest.mark.parametrize("key", list(ROLE_KEYS))
def test_each_role_gets_the_right_answer_on_pages(role_client, users, key):
    c = role_client(key)
    for path, rule in PAGES:
        resp = c.get(path)
        expected = 200 if rule == AUTH or ROLE_KEYS[key] in rule else 403
        assert resp.status_code == expected, (key, path, resp.status_code)
        if expected == 403:
            assert "Not permitted" in resp.get_data(as_text=True)
    # Edit page of another user, by id.
    other = users["pwo" if key != "pwo" else "resident"]
    resp = c.get(f"/admin/users/{other.id}/edit")
    assert resp.status_code == (200 if key == "admin" else 403)


def test_navigation_shows_only_permitted_links(role_client):
    admin = role_client("admin").get("/").get_data(as_text=True)
    resident = role_client("resident").get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in admin and 'href="/audit/"' in admin
    assert 'href="/admin/users"' not in resident and 'href="/audit/"' not in resident


API = [  # (method, path, rule)
    ("GET", "/api/users/profile", AUTH),
    ("GET", "/api/users/doctors", AUTH),
    ("GET", "/api/session/info", AUTH),
    ("GET", "/api/users", ADMIN_ONLY),
    ("GET", "/api/users/stats", ADMIN_ONLY),
    ("GET", "/api/users/{other}", ADMIN_ONLY),
]


def test_anonymous_api_gets_401(client, users):
    for method, path, _ in API:
        resp = client.open(path.format(other=users["pwo"].id), method=method)
        assert resp.status_code == 401, path
        assert resp.get_json() == {"success": False, "message": "Access token required"}


@pytest.mark.parametrize("key", list(ROLE_KEYS))
def test_each_role_gets_the_right_answer_on_the_api(client, users, bearer, key):
    headers = bearer(users[key])
    other = users["pwo" if key != "pwo" else "resident"]
    for method, path, rule in API:
        resp = client.open(path.format(other=other.id), method=method, headers=headers)
        allowed = rule == AUTH or ROLE_KEYS[key] in rule
        assert resp.status_code == (200 if allowed else 403), (key, path, resp.get_json())
        body = resp.get_json()
        assert body["success"] is allowed
        if not allowed:
            assert body["message"] == f"Access denied. Required roles: Admin. Your role: {ROLE_KEYS[key]}"


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
