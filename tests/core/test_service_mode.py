"""Service mode (EMRS_SERVICES): one codebase answering as one of the spec's five
services (api-contract.md §2, §11), tokens valid across processes."""
from __future__ import annotations

import pytest
from flask_migrate import upgrade

from emrs import create_app
from emrs.auth.models import ADMIN, PWO
from emrs.extensions import db
from emrs.services import SERVICES, parse_services

from ..conftest import FreshContextClient, api_login, make_config
from ..dbutil import drop_database

pytestmark = pytest.mark.no_rollback


def _app(name, services, migrate=False, **extra):
    app = create_app(make_config(name, EMRS_SERVICES=services, **extra))
    app.test_client_class = FreshContextClient
    if migrate:
        with app.app_context():
            upgrade()
    return app


def _dispose(app, name=None):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if name:
        drop_database(name)


def test_prescription_only_serves_prescriptions_and_refuses_other_domains():
    app = _app("svc_rx", "prescription")
    try:
        c = app.test_client()
        assert c.get("/api/prescriptions").status_code == 401  # the route exists
        assert c.get("/api/medicines").status_code == 401
        for path in ("/api/patients", "/api/clinical-proformas", "/api/adl-files", "/api/users"):
            resp = c.get(path)
            assert resp.status_code == 404, path
            body = resp.get_json()
            assert body["success"] is False and body["message"] == f"Route {path} not found"
        # Pages of other services are not found either (before any sign-in check).
        assert c.get("/patients/").status_code == 404
        assert c.get("/admin/users").status_code == 404
        # Sign-in pages and health are served by every process.
        assert c.get("/login").status_code == 200
        assert c.get("/health").get_json()["service"] == "prescription"
        assert app.config["EMRS_ENABLED_SERVICES"] == ("prescription",)
        with app.test_request_context():
            from flask import url_for
            assert url_for("patients.index") == "/patients/"  # templates keep working
    finally:
        _dispose(app, "svc_rx")


def test_user_and_patients_mode():
    app = _app("svc_up", "user, out-patients-card-and-out-patient-record")
    try:
        c = app.test_client()
        assert c.get("/login").status_code == 200
        assert c.get("/api/patients").status_code == 401
        assert c.get("/api/patient-cards").status_code == 401
        assert c.get("/api/users").status_code == 401
        resp = c.get("/api/clinical-proformas")
        assert resp.status_code == 404 and resp.get_json()["success"] is False
        assert c.get("/api/prescriptions").status_code == 404
        assert c.get("/health").get_json()["service"] == "emrs"  # more than one service
        disabled = app.config["EMRS_DISABLED_ENDPOINTS"]
        assert "clinical.proformas" in disabled and "api.proformas_list" in disabled
        assert "patients.index" not in disabled and "auth.users" not in disabled
    finally:
        _dispose(app, "svc_up")


@pytest.mark.parametrize("services, expected", [
    ("user", "user"),
    ("adult-walk-in-clinical-performa", "adult-walk-in-clinical-performa"),
    ("", "emrs"),
    ("user,prescription", "emrs"),
])
def test_health_service_name(services, expected):
    app = _app("svc_health", services)
    try:
        body = app.test_client().get("/health").get_json()
        assert body["service"] == expected
    finally:
        _dispose(app, "svc_health")


def test_health_uses_configured_name_for_several_services():
    app = _app("svc_name", "", EMRS_SERVICE_NAME="gateway-all")
    try:
        assert app.test_client().get("/health").get_json()["service"] == "gateway-all"
    finally:
        _dispose(app, "svc_name")


def test_unknown_service_name_is_a_startup_error():
    with pytest.raises(ValueError, match="'prescriptions'"):
        create_app(make_config("svc_bad", database=False, EMRS_SERVICES="user,prescriptions"))
    assert parse_services("") == SERVICES
    assert parse_services(None) == SERVICES
    assert parse_services(["prescription", "user"]) == ("user", "prescription")


def test_navigation_hides_disabled_services(outbox):
    from emrs.auth import service
    app = _app("svc_nav", "user", migrate=True)
    try:
        with app.test_request_context():
            service.create_user({"email": "nav-admin@test.emrs.local", "name": "Nav Admin", "role": ADMIN,
                                 "password": "Passw0rd-test", "two_factor_enabled": False})
            db.session.commit()
        c = app.test_client()
        assert c.post("/login", data={"email": "nav-admin@test.emrs.local",
                                      "password": "Passw0rd-test"}).status_code == 302
        html = c.get("/").get_data(as_text=True)
        assert 'href="/admin/users"' in html and 'href="/audit/"' in html
        assert 'href="/patients/"' not in html and 'href="/clinical/proformas"' not in html
        assert 'href="/intake/record-room"' not in html
    finally:
        _dispose(app, "svc_nav")


def test_token_from_one_process_is_accepted_by_another(outbox):
    """Sessions are database rows: a token issued by a full-mode process works on a
    prescription-only process sharing the database."""
    from emrs.auth import service
    full = _app("svc_token", "", migrate=True)
    # The second process: same database (URL and engine options), its own app object.
    rx = create_app({**make_config("svc_token2", database=False),
                     "SQLALCHEMY_DATABASE_URI": full.config["SQLALCHEMY_DATABASE_URI"],
                     "SQLALCHEMY_ENGINE_OPTIONS": full.config["SQLALCHEMY_ENGINE_OPTIONS"],
                     "MAIL_OUTBOX_DIR": full.config["MAIL_OUTBOX_DIR"],
                     "EMRS_SERVICES": "prescription"})
    rx.test_client_class = FreshContextClient
    try:
        with full.test_request_context():
            user = service.create_user({"email": "svc-pwo@test.emrs.local", "name": "Svc PWO", "role": PWO,
                                        "password": "Passw0rd-test", "two_factor_enabled": False})
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
        token = api_login(full.test_client(), outbox, user, password="Passw0rd-test")
        resp = rx.test_client().get("/api/prescriptions", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code != 401 and resp.status_code != 404, resp.get_json()
        assert resp.status_code in (200, 403)
        assert rx.test_client().get("/api/prescriptions").status_code == 401
    finally:
        _dispose(rx)
        _dispose(full, "svc_token")
