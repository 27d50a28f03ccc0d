"""Autosaved drafts: the service (upsert, owner only, limits), the endpoints autosave.js
talks to (save, discard, banner), "My unsaved drafts", an ended session answering the
script with 401 + HX-Redirect, and a stale CSRF token answered with a fresh one."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.auth.models import UserSession
from emrs.drafts import service
from emrs.drafts.models import Draft
from emrs.errors import NotFound, ValidationError
from emrs.extensions import db
from emrs.models_base import utcnow
from emrs.patients.models import Patient
from emrs.timeutil import IST

HX = {"HX-Request": "true"}


def _patient(name="Harpreet Kaur Sandhu", cr="CR20250000991", active=True) -> Patient:
    p = Patient(name=name, name_key="x", cr_no=cr, is_active=active)
    db.session.add(p)
    db.session.commit()
    return p


def _drafts_count() -> int:
    return db.session.execute(select(func.count(Draft.id))).scalar_one()


def _audit(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action)).scalars())


# ------------------------------------------------------------------ service

def test_save_upserts_and_get_returns_own_draft(ctx, users):
    me, other = users["resident"], users["faculty"]
    p = _patient()
    first = service.save(me, p.id, "proforma:new", {"chief_complaint": "Low mood", "symptoms": ["sleep", "appetite"]})
    first_at = service.saved_at(first)
    second = service.save(me, p.id, "proforma:new", {"chief_complaint": "Low mood for 3 months"})
    assert second.id == first.id and _drafts_count() == 1
    got = service.get(me, p.id, "proforma:new")
    assert got.data == {"chief_complaint": "Low mood for 3 months"}
    assert service.saved_at(got) >= first_at
    # Another user, another form, another patient: nothing.
    assert service.get(other, p.id, "proforma:new") is None
    assert service.get(me, p.id, "intake:history") is None
    assert service.get(me, None, "proforma:new") is None
    # A draft without a patient is its own draft, also unique (partial index).
    service.save(me, None, "proforma:new", {"a": "1"})
    service.save(me, None, "proforma:new", {"a": "2"})
    assert _drafts_count() == 2 and service.get(me, None, "proforma:new").data == {"a": "2"}
    # Autosaves are not audited.
    assert _audit("draft_save") == [] and all(not a.action.startswith("draft") for a in
                                               db.session.execute(select(AuditLog)).scalars())


def test_discard_only_by_owner_and_audited_without_content(ctx, users):
    me, other = users["resident"], users["pwo"]
    p = _patient()
    service.save(me, p.id, "proforma:new", {"history": "Secret clinical text"})
    assert service.discard(other, p.id, "proforma:new") is False
    assert service.get(me, p.id, "proforma:new") is not None
    assert _audit("draft_discard") == []
    assert service.discard(me, p.id, "proforma:new") is True
    assert service.get(me, p.id, "proforma:new") is None
    assert service.discard(me, p.id, "proforma:new") is False
    (row,) = _audit("draft_discard")
    assert row.user_id == me.id and row.patient_id == p.id and row.entity == "draft"
    assert row.details == {"form_key": "proforma:new", "reason": "discarded"}
    assert "Secret" not in json.dumps(row.details)


def test_offer_gives_data_and_local_time(ctx, users):
    me = users["resident"]
    p = _patient()
    assert service.offer(me, p.id, "proforma:new") is None
    service.save(me, p.id, "proforma:new", {"mse_mood": "euthymic"})
    offer = service.offer(me, p.id, "proforma:new")
    assert offer["data"] == {"mse_mood": "euthymic"}
    when = dt.datetime.fromisoformat(offer["saved_at"])
    assert when.tzinfo is not None
    assert offer["saved_at_local"] == when.astimezone(IST).strftime("%H:%M")
    assert re.fullmatch(r"\d\d:\d\d", offer["saved_at_local"])
    assert service.offer(users["faculty"], p.id, "proforma:new") is None


@pytest.mark.parametrize("key", ["", "Proforma", "1proforma", "proforma new", "a" * 81, "proforma/x", None, 12])
def test_bad_form_keys_are_refused(ctx, users, key):
    with pytest.raises(ValidationError):
        service.save(users["resident"], None, key, {"a": "b"})


def test_longest_form_key_is_accepted(ctx, users):
    key = "p" + "a:b.c-d_" * 9 + "123456789"[:79 - 72]
    assert len(key) == 80
    assert service.save(users["resident"], None, key, {}).form_key == key


@pytest.mark.parametrize("data", [
    ["a", "b"], "text", {"a": 1}, {"a": None}, {"a": ["x", 2]}, {"a": {"b": "c"}}, {"": "x"},
    {f"f{i}": "x" for i in range(501)},
    {"big": "x" * (256 * 1024)},
    {f"f{i}": "अ" * 300 for i in range(300)},  # 300 × 900 bytes of UTF-8: over 256 KB
])
def test_bad_data_is_refused_and_nothing_saved(ctx, users, data):
    with pytest.raises(ValidationError):
        service.save(users["resident"], None, "proforma:new", data)
    assert _drafts_count() == 0


def test_data_at_the_limits_is_accepted(ctx, users):
    data = {f"f{i}": ["x", "y"] if i % 2 else "z" for i in range(500)}
    assert service.save(users["resident"], None, "proforma:new", data).data == data
    big = {"notes": "x" * (256 * 1024 - 20)}
    assert service.save(users["resident"], None, "proforma:big", big).data == big


def test_unknown_or_archived_patient_is_not_found(ctx, users):
    gone = _patient(cr="CR20250000992", active=False)
    for pid in (gone.id, 2_000_000_000):
        with pytest.raises(NotFound) as exc:
            service.save(users["resident"], pid, "proforma:new", {"a": "b"})
        assert exc.value.message == "Patient not found"
    assert _drafts_count() == 0


# ------------------------------------------------------------------ routes

def test_save_route_stores_form_fields_only(role_client, users):
    c = role_client("resident")
    p = _patient()
    resp = c.post("/drafts/save", headers=HX, data={
        "_draft_key": "proforma:new", "_draft_patient": str(p.id), "csrf_token": "tok", "version": "3",
        "_internal": "x", "chief_complaint": "Hearing voices", "symptoms": ["hallucinations", "insomnia"],
        "empty": ""})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    when = dt.datetime.fromisoformat(body["saved_at"])
    assert body["saved_at_local"] == when.astimezone(IST).strftime("%H:%M")
    draft = service.get(users["resident"], p.id, "proforma:new")
    assert draft.data == {"chief_complaint": "Hearing voices", "symptoms": ["hallucinations", "insomnia"], "empty": ""}
    # Saving again replaces the draft (one row).
    resp = c.post("/drafts/save", headers=HX, data={"_draft_key": "proforma:new", "_draft_patient": str(p.id),
                                                    "chief_complaint": "Hearing voices, 2 weeks"})
    assert resp.status_code == 200 and _drafts_count() == 1
    assert service.get(users["resident"], p.id, "proforma:new").data == {"chief_complaint": "Hearing voices, 2 weeks"}
    # Without a patient.
    assert c.post("/drafts/save", headers=HX, data={"_draft_key": "intake:new", "x": "1"}).status_code == 200
    assert service.get(users["resident"], None, "intake:new").data == {"x": "1"}


@pytest.mark.parametrize("form,status,message", [
    ({"x": "1"}, 400, "Invalid form key"),
    ({"_draft_key": "Bad Key", "x": "1"}, 400, "Invalid form key"),
    ({"_draft_key": "proforma:new", "_draft_patient": "abc"}, 400, "Invalid patient id"),
    ({"_draft_key": "proforma:new", "_draft_patient": "99999999999"}, 400, "Invalid patient id"),
    ({"_draft_key": "proforma:new", "_draft_patient": "2000000000"}, 404, "Patient not found"),
    ({"_draft_key": "proforma:new", "notes": "x" * (257 * 1024)}, 400, "too large"),
    ({"_draft_key": "proforma:new", **{f"f{i}": "x" for i in range(501)}}, 400, "Too many fields"),
])
def test_save_route_refuses_bad_input_with_json(role_client, form, status, message):
    c = role_client("resident")
    resp = c.post("/drafts/save", headers=HX, data=form)
    assert resp.status_code == status
    body = resp.get_json()
    assert body["success"] is False and message in body["message"]
    assert _drafts_count() == 0


def test_other_user_cannot_read_or_discard(role_client, users, app):
    p = _patient()
    mine = role_client("resident")
    mine.post("/drafts/save", headers=HX, data={"_draft_key": "proforma:new", "_draft_patient": str(p.id),
                                                "history": "Only mine"})
    other = role_client("faculty")
    banner = other.get(f"/drafts/banner?key=proforma:new&patient={p.id}")
    assert banner.status_code == 200 and "Unsaved draft" not in banner.get_data(as_text=True)
    assert "Only mine" not in other.get("/drafts/").get_data(as_text=True)
    resp = other.post("/drafts/discard", headers=HX, data={"_draft_key": "proforma:new", "_draft_patient": str(p.id)})
    assert resp.status_code == 204
    assert service.get(users["resident"], p.id, "proforma:new").data == {"history": "Only mine"}
    # The admin does not see it either: drafts are not the record.
    admin = role_client("admin")
    assert "proforma:new" not in admin.get("/drafts/").get_data(as_text=True)


def test_banner_offers_the_draft_and_discard_clears_it(role_client, users):
    c = role_client("resident")
    p = _patient()
    saved = c.post("/drafts/save", headers=HX, data={"_draft_key": "proforma:new", "_draft_patient": str(p.id),
                                                     "history": "x"}).get_json()
    html = c.get(f"/drafts/banner?key=proforma:new&patient={p.id}",
                 headers={**HX, "HX-Current-URL": f"http://localhost/clinical/proforma/new?patient={p.id}"}
                 ).get_data(as_text=True)
    assert f"Unsaved draft restored from <time datetime=\"{saved['saved_at']}\">{saved['saved_at_local']}</time>" in html
    assert 'action="/drafts/discard"' in html and "Discard draft" in html
    assert 'name="_draft_key" value="proforma:new"' in html and f'name="_draft_patient" value="{p.id}"' in html
    assert f'name="next" value="/clinical/proforma/new?patient={p.id}"' in html
    # A plain form post (no script) goes back to the page, which then has no draft.
    resp = c.post("/drafts/discard", data={"_draft_key": "proforma:new", "_draft_patient": str(p.id),
                                           "next": f"/clinical/proforma/new?patient={p.id}"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/clinical/proforma/new?patient={p.id}"
    assert service.get(users["resident"], p.id, "proforma:new") is None
    assert c.get(f"/drafts/banner?key=proforma:new&patient={p.id}").get_data(as_text=True).strip() == ""
    assert len(_audit("draft_discard")) == 1
    # Bad identifiers in the banner request: 400, not a crash.
    assert c.get("/drafts/banner?key=BAD").status_code == 400


def test_discard_redirect_stays_on_site(role_client):
    c = role_client("resident")
    c.post("/drafts/save", headers=HX, data={"_draft_key": "intake:new", "x": "1"})
    resp = c.post("/drafts/discard", data={"_draft_key": "intake:new", "next": "https://evil.example/x"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/drafts/"
    assert "Draft discarded." in c.get("/drafts/").get_data(as_text=True)
    resp = c.post("/drafts/discard", headers=HX, data={"_draft_key": "Nope!"})
    assert resp.status_code == 400 and resp.get_json()["message"] == "Invalid form key"


def test_my_drafts_page_lists_own_drafts(role_client, users):
    c = role_client("pwo")
    p = _patient(name="Manpreet Singh Gill", cr="CR20250000993")
    c.post("/drafts/save", headers=HX, data={"_draft_key": "proforma:new", "_draft_patient": str(p.id),
                                             "a": "1", "b": "", "c": ["x", "y"]})
    c.post("/drafts/save", headers=HX, data={"_draft_key": "intake:new", "a": "1"})
    html = c.get("/drafts/").get_data(as_text=True)
    assert "My unsaved drafts" in html and "Manpreet Singh Gill" in html and "CR20250000993" in html
    assert "proforma:new" in html and "intake:new" in html
    assert html.count(">Discard</button>") == 2
    assert 'src="/static/js/autosave.js"' in html
    assert "You have no unsaved drafts." in role_client("resident").get("/drafts/").get_data(as_text=True)


def test_registered_form_is_named_and_linked(role_client, users):
    service.register_form("testform", "Test form", lambda d: f"/somewhere/{d.patient_id or 0}")
    try:
        c = role_client("resident")
        c.post("/drafts/save", headers=HX, data={"_draft_key": "testform:new", "a": "1"})
        html = c.get("/drafts/").get_data(as_text=True)
        assert '<a href="/somewhere/0">Test form</a>' in html
    finally:
        service._FORMS.pop("testform", None)


# ------------------------------------------------------------------ sessions

def test_anonymous_script_gets_401_with_hx_redirect(client):
    resp = client.post("/drafts/save", headers={**HX, "HX-Current-URL": "http://localhost/clinical/proforma/new?patient=7"},
                       data={"_draft_key": "proforma:new", "_draft_patient": "7", "x": "typed"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"] == "/login?next=/clinical/proforma/new?patient%3D7"
    # Without HX-Request the guard redirects (302): autosave.js therefore sends HX-Request.
    resp = client.post("/drafts/save", data={"_draft_key": "proforma:new", "x": "typed"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert client.get("/drafts/").status_code == 302
    assert client.get("/drafts/banner?key=proforma:new", headers=HX).status_code == 401
    assert _drafts_count() == 0


def test_expired_session_refuses_and_autosave_counts_as_activity(role_client, users):
    c = role_client("resident")
    me = users["resident"]
    rows = list(db.session.execute(select(UserSession).where(UserSession.user_id == me.id)).scalars())
    for row in rows:
        row.last_activity = utcnow() - timedelta(minutes=10)
    db.session.commit()
    assert c.post("/drafts/save", headers=HX, data={"_draft_key": "proforma:new", "x": "1"}).status_code == 200
    db.session.expire_all()
    row = db.session.execute(select(UserSession).where(UserSession.user_id == me.id)).scalars().first()
    last = row.last_activity if row.last_activity.tzinfo else row.last_activity.replace(tzinfo=dt.timezone.utc)
    assert utcnow() - last < timedelta(minutes=1)  # the autosave kept the session alive
    for row in db.session.execute(select(UserSession).where(UserSession.user_id == me.id)).scalars():
        row.last_activity = utcnow() - timedelta(hours=1)
    db.session.commit()
    resp = c.post("/drafts/save", headers={**HX, "HX-Current-URL": "http://localhost/patients/1"},
                  data={"_draft_key": "proforma:new", "x": "2"})
    assert resp.status_code == 401 and resp.headers["HX-Redirect"] == "/login?next=/patients/1"
    assert service.get(me, None, "proforma:new").data == {"x": "1"}


def test_draft_content_is_never_logged(role_client, caplog):
    c = role_client("resident")
    with caplog.at_level(logging.DEBUG):
        c.post("/drafts/save", headers=HX, data={"_draft_key": "proforma:new", "history": "Zyxwv-secret-history"})
        c.post("/drafts/save", headers=HX, data={"_draft_key": "proforma:new", "history": "Zyxwv-secret-history",
                                                 "bad": "x" * (300 * 1024)})
    assert "Zyxwv" not in caplog.text


@pytest.mark.no_rollback
def test_anonymous_save_is_refused_before_the_csrf_check(app):
    """With CSRF on, an anonymous script gets 401 + HX-Redirect whatever its token: the
    sign-in check runs first and its body is never read."""
    from emrs import create_app

    from ..conftest import make_config
    other = create_app({**make_config("drafts_csrf", database=False, WTF_CSRF_ENABLED=True),
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"]})
    c = other.test_client()
    form = {"_draft_key": "proforma:new", "x": "typed"}
    resp = c.post("/drafts/save", headers={**HX, "X-CSRFToken": "stale"}, data=form)
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].startswith("/login")
    resp = c.post("/drafts/save", headers=HX, data={**form, "csrf_token": "stale"})
    assert resp.status_code == 401
    resp = c.post("/drafts/discard", data={"_draft_key": "proforma:new"})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_stale_csrf_token_gets_a_fresh_one(app, client, users, outbox):
    """Signed in, with CSRF on: a missing/stale token answers JSON with a fresh token
    (autosave.js retries with it); a beacon may carry the token in the body."""
    from ..conftest import browser_login
    browser_login(client, outbox, users["resident"])
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        form = {"_draft_key": "proforma:new", "x": "typed"}
        resp = client.post("/drafts/save", headers={**HX, "X-CSRFToken": "stale"}, data=form)
        assert resp.status_code == 400
        body = resp.get_json()
        assert body["code"] == "csrf" and body["csrf_token"]
        resp = client.post("/drafts/save", headers={**HX, "X-CSRFToken": body["csrf_token"]}, data=form)
        assert resp.status_code in (200, 201, 204), resp.status_code
        resp = client.post("/drafts/save", headers=HX, data={**form, "csrf_token": body["csrf_token"]})
        assert resp.status_code in (200, 201, 204), resp.status_code
        # A plain (non-script) discard with a stale token gets the usual page.
        resp = client.post("/drafts/discard", data={"_draft_key": "proforma:new"})
        assert resp.status_code == 400 and "Form expired" in resp.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
