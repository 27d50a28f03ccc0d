"""Health, headers, CSRF, CORS, rate limits, errors and mail."""
from __future__ import annotations

import re

import pytest

from emrs import create_app
from emrs.errors import NOT_STORABLE

from ..conftest import PASSWORD, browser_login, make_config


def test_health_reports_connected(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True and body["status"] == "running" and body["database"] == "connected"
    assert body["service"] == "emrs" and body["timestamp"].endswith("Z")


@pytest.mark.no_rollback
def test_health_with_database_down_is_503():
    url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    app = create_app({**make_config("healthdown", database=False), "SQLALCHEMY_DATABASE_URI": url,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    resp = app.test_client().get("/health")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "disconnected"
    assert resp.get_json()["success"] is False


@pytest.mark.no_rollback
def test_api_with_database_down_is_503_envelope():
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    app = create_app({**make_config("apidown", database=False), "SQLALCHEMY_DATABASE_URI": url,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    resp = app.test_client().post("/api/users/login", json={"email": "a@b.example", "password": "x1234567"})
    assert resp.status_code == 503
    assert resp.get_json() == {"success": False, "message": "Database connection timeout. Please try again."}
    assert resp.headers["Retry-After"] == "5"


def test_security_headers_on_pages(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "HX-Request" in resp.headers["Vary"]
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    # No inline script: every <script> has a src.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "htmx-2.0.11.min.js" in html


def test_session_cookie_flags(client, users, outbox):
    resp = browser_login(client, outbox, users["pwo"])
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_csrf_is_required_on_forms_and_htmx(app, client, users, outbox):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = client.post("/login", data={"email": users["pwo"].email, "password": PASSWORD})
        assert resp.status_code == 400 and "Form expired" in resp.get_data(as_text=True)
        assert outbox.messages() == []
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        # The same token in the X-CSRFToken header (as htmx sends it from base.html) is accepted.
        assert f'"X-CSRFToken": "{token}"' in page
        resp = client.post("/login", data={"email": users["pwo"].email, "password": PASSWORD},
                           headers={"X-CSRFToken": token, "HX-Request": "true"})
        assert resp.status_code == 302
        resp = client.post("/login/otp", data={"otp": outbox.last_code(users["pwo"].email), "csrf_token": token})
        assert resp.status_code == 302
        # Signed in, a POST without a token is still refused and changes nothing.
        resp = client.post("/logout")
        assert resp.status_code == 400
        assert client.get("/").status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_login_rate_limit(app, client):
    app.config["RATELIMIT_AUTH"] = "3 per minute"
    try:
        codes = [client.post("/login", data={"email": "x@test.emrs.local", "password": "wrong-pw1"},
                             environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code for _ in range(5)]
        assert codes[:3] == [422, 422, 422] and codes[3:] == [429, 429]
        api = [client.post("/api/users/login", json={"email": "x@test.emrs.local", "password": "wrong-pw1"},
                           environ_base={"REMOTE_ADDR": "10.9.8.6"}) for _ in range(4)]
        assert [r.status_code for r in api] == [401, 401, 401, 429]
        assert api[-1].get_json()["success"] is False
    finally:
        app.config["RATELIMIT_AUTH"] = "1000 per minute"


def test_cors_on_api_for_configured_origin(app, client):
    app.config["CORS_ORIGIN"] = "https://his.example.org"
    try:
        resp = client.open("/api/users/login", method="OPTIONS",
                           headers={"Origin": "https://his.example.org", "Access-Control-Request-Method": "POST"})
        assert resp.headers["Access-Control-Allow-Origin"] == "https://his.example.org"
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        resp = client.get("/api", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in resp.headers
    finally:
        app.config["CORS_ORIGIN"] = ""


def test_api_root_and_unknown_route(client):
    body = client.get("/api").get_json()
    assert body["success"] is True and body["message"] == "Welcome to EMRS PGIMER API"
    assert body["endpoints"]["patients"] == "/api/patients"
    resp = client.get("/api/no-such-thing")
    assert resp.status_code == 404
    assert resp.get_json()["message"] == "Route /api/no-such-thing not found"
    assert "/api/users" in resp.get_json()["availableRoutes"]


@pytest.mark.parametrize("url", ["/api/patients?search=ab%00c", "/api/patients?assigned_room=1%002",
                                 "/api/patients/cr/CR%00X", "/api/adl-files/adl/A%00B",
                                 "/api/clinical-proformas?room_no=1%00"])
def test_nul_in_the_address_is_a_400_not_a_500(client, users, bearer, url):
    """Regression (schemathesis on PostgreSQL): PostgreSQL refuses NUL in a string, so a
    search term or number lookup with %00 was a 500."""
    resp = client.get(url, headers=bearer(users["admin"]))
    assert resp.status_code == 400
    assert resp.get_json() == {"success": False, "message": NOT_STORABLE}


def test_nul_in_a_page_address_is_a_400_page(role_client):
    resp = role_client("pwo").get("/patients/?q=ab%00c")
    assert resp.status_code == 400 and "cannot be stored (a NUL byte" in resp.get_data(as_text=True)


def test_unknown_page_is_a_clear_404(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and "There is no page at this address." in resp.get_data(as_text=True)


@pytest.mark.no_rollback
def test_mail_goes_over_smtp_when_configured(app):
    """A real SMTP conversation with an in-process aiosmtpd server."""
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = aiosmtpd.Controller(Collect(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        smtp_app = create_app({**make_config("smtp", database=False), "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                               "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                               "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": port, "EMAIL_USE_TLS": False})
        with smtp_app.app_context():
            from emrs.mail import send_mail
            send_mail("dr.kaur@test.emrs.local", "Your EMRS login code", "Your EMRS login code is 123456")
    finally:
        ctl.stop()
    assert len(received) == 1
    assert received[0]["To"] == "dr.kaur@test.emrs.local"
    assert "123456" in received[0].get_payload()


def test_outbox_log_line_has_no_body(app, caplog):
    with app.app_context():
        from emrs.mail import send_mail
        with caplog.at_level("INFO", logger="emrs.mail"):
            send_mail("a@test.emrs.local", "Your EMRS login code", "code 654321")
    assert "outbox" in caplog.text and "654321" not in caplog.text


@pytest.mark.no_rollback
def test_proxy_fix_only_when_configured():
    """Behind the gateway the client address comes from X-Forwarded-For; without a proxy
    setting, a forged header changes nothing."""
    from flask import request as flask_request
    for hops, expected in ((0, "10.0.0.9"), (1, "203.0.113.7")):
        app = create_app({**make_config(f"proxy{hops}", database=False), "PROXY_FIX_X_FOR": hops})
        client = app.test_client()
        app.add_url_rule("/_addr_probe", "health.probe", lambda: flask_request.remote_addr)
        from emrs.auth.permissions import PERMISSIONS
        PERMISSIONS["health.probe"] = "public"
        try:
            body = client.get("/_addr_probe", environ_base={"REMOTE_ADDR": "10.0.0.9"},
                              headers={"X-Forwarded-For": "203.0.113.7"}).get_data(as_text=True)
        finally:
            PERMISSIONS.pop("health.probe", None)
        assert body == expected, (hops, body)
