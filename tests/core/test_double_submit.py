"""Item 13: page forms that create a record carry a one-time submission token; the same
form POSTed twice (double click, script, a network resending) creates one record and the
second POST lands on it. Forms covered: patient registration (/patients/new), the
walk-in proforma (/clinical/proformas/new) and a patient's file upload (/patients/<id>/files)."""
from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import func, select, text

from emrs.clinical.models import ClinicalProforma
from emrs.extensions import db
from emrs.patients.models import Patient
from emrs.timeutil import today_ist

from ..conftest import PASSWORD, make_config
from ..dbutil import base_url, drop_database, is_pg

TOKEN = re.compile(r'name="_submission" value="([A-Za-z0-9_-]+)"')


def _token(page: str) -> str:
    m = TOKEN.search(page)
    assert m, "no submission token in the form"
    return m.group(1)


def _count(model, **where) -> int:
    q = select(func.count(model.id))
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    return db.session.execute(q).scalar_one()


def test_registration_sent_twice_creates_one_patient(role_client):
    c = role_client("pwo")
    token = _token(c.get("/patients/new").get_data(as_text=True))
    form = {"name": "Double Click Singh", "age": "40", "sex": "M", "_submission": token}
    first = c.post("/patients/new", data=form)
    assert first.status_code == 302, first.get_data(as_text=True)[:500]
    second = c.post("/patients/new", data=form)
    assert second.status_code == 303 and second.headers["Location"] == first.headers["Location"]
    assert _count(Patient, name="Double Click Singh") == 1
    page = c.get(second.headers["Location"]).get_data(as_text=True)
    assert "already sent" in page
    # A new form has a new token and registers again (a real second patient is possible).
    other = _token(c.get("/patients/new").get_data(as_text=True))
    assert other != token
    assert c.post("/patients/new", data={**form, "_submission": other}).status_code == 302
    assert _count(Patient, name="Double Click Singh") == 2


def test_a_refused_form_keeps_its_token_and_can_be_sent_again(role_client):
    c = role_client("pwo")
    token = _token(c.get("/patients/new").get_data(as_text=True))
    refused = c.post("/patients/new", data={"name": "", "age": "40", "sex": "M", "_submission": token})
    assert refused.status_code == 422 and _token(refused.get_data(as_text=True)) == token
    ok = c.post("/patients/new", data={"name": "Second Try Kaur", "age": "40", "sex": "F", "_submission": token})
    assert ok.status_code == 302 and _count(Patient, name="Second Try Kaur") == 1


def test_the_token_is_per_user(role_client, users):
    a, b = role_client("pwo"), role_client("resident")
    token = _token(a.get("/patients/new").get_data(as_text=True))
    form = {"name": "Two Clerks Devi", "age": "40", "sex": "F", "_submission": token}
    assert a.post("/patients/new", data=form).status_code == 302
    assert b.post("/patients/new", data=form).status_code == 302
    assert _count(Patient, name="Two Clerks Devi") == 2


def test_proforma_sent_twice_creates_one_proforma(role_client, client, users, bearer):
    pid = client.post("/api/patients/register-complete", headers=bearer(users["pwo"]),
                      json={"name": "Proforma Twice", "age": 30, "sex": "F"}).get_json()["data"]["patient"]["id"]
    c = role_client("resident")
    page = c.get(f"/clinical/proformas/new?patient_id={pid}").get_data(as_text=True)
    form = {"patient_id": str(pid), "visit_date": today_ist().isoformat(), "diagnosis": "Depression",
            "_submission": _token(page)}
    first = c.post(f"/clinical/proformas/new?patient_id={pid}", data=form)
    assert first.status_code == 302, first.get_data(as_text=True)[:500]
    second = c.post(f"/clinical/proformas/new?patient_id={pid}", data=form)
    assert second.status_code == 303 and second.headers["Location"] == first.headers["Location"]
    assert _count(ClinicalProforma, patient_id=pid) == 1


def test_an_upload_sent_twice_stores_the_files_once(role_client, client, users, bearer):
    from io import BytesIO

    from emrs.patients.models import PatientFile
    pid = client.post("/api/patients/register-complete", headers=bearer(users["pwo"]),
                      json={"name": "Upload Twice", "age": 30, "sex": "F"}).get_json()["data"]["patient"]["id"]
    c = role_client("resident")
    token = _token(c.get(f"/patients/{pid}/files").get_data(as_text=True))
    body = b"Referral letter: please see this patient.\n"

    def send(**headers):
        return c.post(f"/patients/{pid}/files", data={"_submission": token, "files": (BytesIO(body), "letter.txt")},
                      content_type="multipart/form-data", headers=headers)

    first = send(**{"HX-Request": "true"})  # as static/js/upload.js sends it
    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    again = send(**{"HX-Request": "true"})
    assert again.status_code == 303 and again.headers["Location"] == f"/patients/{pid}/files"
    plain = send()
    assert plain.status_code == 303
    assert _count(PatientFile, patient_id=pid) == 1


@pytest.mark.no_rollback
@pytest.mark.skipif(not is_pg(base_url()), reason="needs PostgreSQL (TEST_DATABASE_URL): SQLite serialises "
                                                    "writers on the whole database, no row-level waits to test")
def test_two_concurrent_posts_of_one_form_create_one_patient():
    from flask_migrate import upgrade

    from emrs import create_app
    from emrs.auth import service as auth_service
    from emrs.auth.models import PWO
    from emrs.patients import registration

    from ..conftest import FreshContextClient, Outbox, browser_login
    app = create_app(make_config("form_concurrency"))
    app.test_client_class = FreshContextClient
    try:
        with app.app_context():
            upgrade()
            with app.test_request_context():
                user = auth_service.create_user({"name": "Clerk", "email": "clerk@test.emrs.local",
                                                 "password": PASSWORD, "role": PWO, "two_factor_enabled": False})
                db.session.commit()
        clients = {who: app.test_client() for who in "AB"}
        for c in clients.values():
            browser_login(c, Outbox(None), user)
        token = _token(clients["A"].get("/patients/new").get_data(as_text=True))
        form = {"name": "Racing Form Singh", "age": "50", "sex": "M", "_submission": token}
        a_in_view, results = threading.Event(), {}
        real_register = registration.register

        def waiting_for_b():
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                with app.app_context():
                    waiting = db.session.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO idempotency_keys%'")).scalar_one()
                    db.session.remove()
                if waiting:
                    return True
                time.sleep(0.05)
            return False

        def register(*args, **kwargs):
            if threading.current_thread().name == "A":
                a_in_view.set()
                results["b_waited"] = waiting_for_b()
            return real_register(*args, **kwargs)

        def send(who):
            results[who] = clients[who].post("/patients/new", data=form)

        registration.register = register
        try:
            a = threading.Thread(target=send, args=("A",), name="A")
            a.start()
            assert a_in_view.wait(15)
            b = threading.Thread(target=send, args=("B",), name="B")
            b.start()
            a.join(60)
            b.join(60)
        finally:
            registration.register = real_register
        assert results["b_waited"], "B never waited on the claim's unique index"
        assert results["A"].status_code == 302
        assert results["B"].status_code == 303 and results["B"].headers["Location"] == results["A"].headers["Location"]
        with app.app_context():
            assert _count(Patient, name="Racing Form Singh") == 1
            db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database("form_concurrency")
