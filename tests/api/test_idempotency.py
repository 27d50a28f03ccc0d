"""Idempotency-Key on API POSTs, as an integrator sees it: a retried POST under the same
key answers the first answer again instead of creating a second record."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from emrs.api import idempotency
from emrs.idempotency_keys import IdempotencyKey
from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.models_base import utcnow
from emrs.patients.models import Patient

from ..conftest import PASSWORD, make_config
from ..dbutil import base_url, drop_database, is_pg

URL = "/api/patients/register-complete"
CARD = {"name": "Harpreet Kaur", "age": 33, "sex": "F", "contact_number": "9876501234", "category": "GEN",
        "father_name": "Jaswant Singh", "city": "Mohali"}
UNKNOWN = ("A request with this Idempotency-Key was already received and its result is not known yet; "
           "look the record up before sending it again")


def post(client, headers, key=None, body=None, url=URL):
    """The same bytes every time (a client retrying sends what it sent)."""
    extra = {} if key is None else {"Idempotency-Key": key}
    return client.post(url, data=json.dumps(CARD if body is None else body), content_type="application/json",
                       headers={**headers, **extra})


def patients(name=CARD["name"]) -> int:
    return db.session.execute(select(func.count()).select_from(Patient).where(Patient.name == name)).scalar_one()


def keys() -> list[IdempotencyKey]:
    return db.session.execute(select(IdempotencyKey).order_by(IdempotencyKey.id)).scalars().all()


def test_a_retry_under_the_same_key_replays_the_first_answer(app, client, h):
    first = post(client, h["pwo"], "register-4711")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert patients() == 1
    again = post(client, h["pwo"], "register-4711")
    assert again.status_code == 201
    assert again.get_data() == first.get_data()  # byte for byte
    assert again.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert patients() == 1
    (row,) = keys()
    assert row.status_code == 201 and row.key == "register-4711" and len(row.fingerprint) == 64
    # keyed with SECRET_KEY: a dump does not let anyone check guesses of a body (passwords, notes)
    plain = hashlib.sha256(b"POST\n" + URL.encode() + b"\n\n" + json.dumps(CARD).encode()).hexdigest()
    assert row.fingerprint == _fingerprint(app) != plain


def test_the_same_key_for_a_different_request_is_422_and_creates_nothing(client, h):
    assert post(client, h["pwo"], "k-1").status_code == 201
    resp = post(client, h["pwo"], "k-1", {**CARD, "name": "Other Person"})
    assert resp.status_code == 422
    assert resp.get_json() == {"success": False, "message": "Idempotency-Key was already used for a different request"}
    assert patients("Other Person") == 0
    # the same body on another route is a different request too
    resp = post(client, h["pwo"], "k-1", {"name": "Quick Person", "sex": "M", "age": 40}, url="/api/patients")
    assert resp.status_code == 422 and patients("Quick Person") == 0


def test_keys_are_per_user(client, h, users):
    a = post(client, h["pwo"], "shared-key")
    b = post(client, h["resident"], "shared-key")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers
    assert a.get_json()["data"]["patient"]["id"] != b.get_json()["data"]["patient"]["id"]
    assert patients() == 2
    assert {k.user_id for k in keys()} == {users["pwo"].id, users["resident"].id}


@pytest.mark.parametrize("key", ["", "x" * 129, "two words", "caf\u00e9", "tab\there", "bell\x07", "del\x7f"])
def test_an_invalid_key_is_400_and_nothing_changes(client, h, key):
    resp = post(client, h["pwo"], key)
    assert resp.status_code == 400
    assert resp.get_json() == {"success": False, "message": "Idempotency-Key must be 1–128 printable ASCII characters"}
    assert patients() == 0 and keys() == []


def test_the_longest_and_oddest_valid_keys(client, h):
    for key in ("x" * 128, "!", "~{}[]\"'\\/?#%"):
        assert post(client, h["pwo"], key, {**CARD, "name": f"Kaur {len(key)} {key[0]}"}).status_code == 201
    assert len(keys()) == 3


def test_two_idempotency_key_headers_are_400(client, h):
    resp = client.post(URL, json=CARD, headers=[*h["pwo"].items(), ("Idempotency-Key", "a"),
                                                ("Idempotency-Key", "b")])
    assert resp.status_code == 400 and patients() == 0


def test_a_refused_request_leaves_no_claim_and_its_corrected_retry_runs(client, h):
    """A validation error rolls the claim back with everything else: the corrected body
    (a different request) runs under the same key, and is then replayed."""
    bad = post(client, h["pwo"], "form-7", {**CARD, "age": 400})
    assert bad.status_code == 400 and keys() == [] and patients() == 0
    same_bad = post(client, h["pwo"], "form-7", {**CARD, "age": 400})
    assert same_bad.status_code == 400 and "Idempotent-Replayed" not in same_bad.headers  # ran again
    good = post(client, h["pwo"], "form-7")
    assert good.status_code == 201 and patients() == 1
    again = post(client, h["pwo"], "form-7")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_data() == good.get_data()
    assert patients() == 1


def test_a_business_refusal_after_nothing_was_written_is_not_kept(client, h):
    post(client, h["pwo"], body={**CARD, "cr_no": "CR2025000111"})  # no key
    dup = post(client, h["pwo"], "dup-1", {**CARD, "cr_no": "CR2025000111"})
    assert dup.status_code == 409 and dup.get_json()["message"] == "CR number is already registered"
    assert keys() == []


def _fingerprint(app, body=CARD, url=URL) -> str:
    with app.test_request_context(url, method="POST", data=json.dumps(body), content_type="application/json"):
        return idempotency.fingerprint()


def test_a_claim_committed_without_an_answer_is_409(app, client, h, users):
    """The write committed, then the answer was lost (a 503, a dead process): the client
    must look the record up rather than create it again."""
    db.session.add(IdempotencyKey(user_id=users["pwo"].id, key="lost-1", fingerprint=_fingerprint(app)))
    db.session.commit()
    resp = post(client, h["pwo"], "lost-1")
    assert resp.status_code == 409 and resp.get_json() == {"success": False, "message": UNKNOWN}
    assert patients() == 0
    # the same key for a different request is still the 422
    assert post(client, h["pwo"], "lost-1", {**CARD, "age": 34}).status_code == 422


def test_a_503_after_the_commit_leaves_the_claim_and_the_retry_is_409(client, h, monkeypatch):
    """The fault test's case: register-complete commits, then the database goes away
    before the answer is built. The blind retry must not create a second patient."""
    from emrs.patients import reading

    def dead(_patient):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(reading, "patient_dict", dead)
    first = post(client, h["pwo"], "fault-1")
    assert first.status_code == 503 and patients() == 1
    monkeypatch.undo()
    retry = post(client, h["pwo"], "fault-1")
    assert retry.status_code == 409 and retry.get_json()["message"] == UNKNOWN
    assert patients() == 1
    (row,) = keys()
    assert row.status_code is None and row.response_body is None


def test_a_key_older_than_24_hours_is_new_again(client, h, users):
    assert post(client, h["pwo"], "old-1").status_code == 201
    other = post(client, h["pwo"], "old-2", {**CARD, "name": "Second Person"})
    assert other.status_code == 201
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, minutes=1)))
    db.session.commit()
    resp = post(client, h["pwo"], "old-1")
    assert resp.status_code == 201 and "Idempotent-Replayed" not in resp.headers
    assert patients() == 2
    # the claim deleted every key of this user older than 24 h, old-2 included
    assert [(k.key, k.status_code) for k in keys()] == [("old-1", 201)]


def test_expired_keys_of_other_users_go_too_but_not_their_current_ones(client, h, users):
    """Stored answers hold patient data: a user who never sends a key again must not keep
    them for ever."""
    assert post(client, h["resident"], "theirs-old").status_code == 201
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    assert post(client, h["resident"], "theirs-new", {**CARD, "name": "Second Person"}).status_code == 201
    assert post(client, h["pwo"], "mine", {**CARD, "name": "Third Person"}).status_code == 201
    assert sorted(k.key for k in keys()) == ["mine", "theirs-new"]


def test_without_the_header_nothing_changes(client, h):
    a, b = post(client, h["pwo"]), post(client, h["pwo"])
    assert a.status_code == b.status_code == 201
    assert patients() == 2 and keys() == []
    assert "Idempotent-Replayed" not in b.headers


def test_a_replay_is_audited_with_the_patient(client, h, users):
    first = post(client, h["pwo"], "audit-1")
    patient_id = first.get_json()["data"]["patient"]["id"]
    post(client, h["pwo"], "audit-1")
    (row,) = keys()
    (entry,) = db.session.execute(select(AuditLog).where(AuditLog.action == "idempotent_replay")).scalars().all()
    assert (entry.entity, entry.entity_id, entry.patient_id, entry.user_id) == \
        ("idempotency_keys", str(row.id), patient_id, users["pwo"].id)
    assert CARD["name"] not in json.dumps(entry.details)


def test_the_key_is_ignored_on_public_sign_in_routes(client, users, h):
    user = users["admin"]
    for key in ("login-1", "login-1", "not valid", ""):
        resp = client.post("/api/users/login", json={"email": user.email, "password": PASSWORD},
                           headers={**h["admin"], "Idempotency-Key": key})
        assert resp.status_code == 200 and "Idempotent-Replayed" not in resp.headers
    assert keys() == []


def test_the_key_is_ignored_on_reads(client, h):
    resp = client.get("/api/patients", headers={**h["pwo"], "Idempotency-Key": "not valid"})
    assert resp.status_code == 200 and keys() == []


def test_an_unauthenticated_post_with_a_key_is_401(client):
    resp = client.post(URL, json=CARD, headers={"Idempotency-Key": "k"})
    assert resp.status_code == 401 and keys() == []


def test_browsers_on_an_allowed_origin_may_send_the_key_and_read_the_replay_header(app, client):
    app.config["CORS_ORIGIN"] = "https://his.example.org"
    try:
        resp = client.open(URL, method="OPTIONS", headers={"Origin": "https://his.example.org",
                                                           "Access-Control-Request-Method": "POST"})
        assert "Idempotency-Key" in resp.headers["Access-Control-Allow-Headers"]
        assert "Idempotent-Replayed" in resp.headers["Access-Control-Expose-Headers"]
    finally:
        app.config["CORS_ORIGIN"] = ""


def test_a_failure_to_store_the_answer_does_not_change_it(client, h, monkeypatch, caplog):
    def broken(_claim_id, _resp):
        raise OperationalError("UPDATE idempotency_keys", {}, Exception("connection lost"))

    monkeypatch.setattr(idempotency, "store", broken)
    with caplog.at_level("WARNING", logger="emrs.idempotency"):
        resp = post(client, h["pwo"], "store-1")
    assert resp.status_code == 201 and resp.get_json()["data"]["patient"]["name"] == CARD["name"]
    assert "could not be stored" in caplog.text and CARD["name"] not in caplog.text
    assert patients() == 1
    monkeypatch.undo()
    # the claim committed with the patient, the answer did not: a retry is the 409
    retry = post(client, h["pwo"], "store-1")
    assert retry.status_code == 409 and patients() == 1


def test_an_answer_over_the_stored_limit_is_replayed_as_409(client, h, monkeypatch):
    monkeypatch.setattr(idempotency, "MAX_STORED_BODY", 100)
    assert post(client, h["pwo"], "big-1").status_code == 201
    (row,) = keys()
    assert row.status_code == 201 and row.response_body is None and row.content_type == "application/json"
    retry = post(client, h["pwo"], "big-1")
    assert retry.status_code == 409 and retry.get_json()["message"] == UNKNOWN and patients() == 1


def test_multipart_bodies_are_fingerprinted_by_their_content(client, h):
    """A client may pick a new multipart boundary for every send: the same fields and
    files are the same request."""
    from io import BytesIO
    pid = post(client, h["pwo"]).get_json()["data"]["patient"]["id"]

    def upload(content=b"referral letter\n"):  # the test client draws a new boundary every time
        return client.post(f"/api/patients/{pid}/files",
                           data={"files": (BytesIO(content), "letter.txt", "text/plain")},
                           headers={**h["pwo"], "Idempotency-Key": "upload-1"}, content_type="multipart/form-data")

    first = upload()
    assert first.status_code == 201, first.get_json()
    again = upload()
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_data() == first.get_data()
    assert upload(b"another letter\n").status_code == 422
    from emrs.patients.models import PatientFile
    assert db.session.execute(select(func.count()).select_from(PatientFile)).scalar_one() == 1
    (entry,) = db.session.execute(select(AuditLog).where(AuditLog.action == "idempotent_replay")).scalars().all()
    assert entry.patient_id == pid  # the route's <patient_id>

# ---------------------------------------------------------------------------- concurrency

@pytest.mark.no_rollback
@pytest.mark.skipif(not is_pg(base_url()), reason="needs PostgreSQL (TEST_DATABASE_URL): SQLite serialises "
                                                    "writers on the whole database, no row-level waits to test")
def test_two_concurrent_requests_with_one_key_create_one_patient():
    """A holds the claim inside its view until B is seen waiting on the unique index; A
    commits; B must end as the 409, never a 500 and never a second patient."""
    from flask_migrate import upgrade
    from emrs import create_app
    from emrs.auth import service as auth_service
    from emrs.auth.models import PWO
    from emrs.patients import registration
    from ..conftest import api_login, Outbox

    app = create_app(make_config("idem_concurrency"))
    try:
        with app.app_context():
            upgrade()
            with app.test_request_context():
                user = auth_service.create_user({"name": "Clerk", "email": "clerk@test.emrs.local", "password": PASSWORD,
                                                 "role": PWO, "two_factor_enabled": False})
                db.session.commit()
            token = api_login(app.test_client(), Outbox(None), user)
        headers = {"Authorization": f"Bearer {token}"}
        a_in_view = threading.Event()
        real_register = registration.register
        results: dict = {}

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
            results[who] = post(app.test_client(), headers, "same-key")

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
        assert results["A"].status_code == 201
        assert results["B"].status_code == 409 and results["B"].get_json()["message"] == UNKNOWN
        with app.app_context():
            assert patients() == 1
            assert len(keys()) == 1 and keys()[0].status_code == 201
            replay = post(app.test_client(), headers, "same-key")
            assert replay.status_code == 201 and replay.get_data() == results["A"].get_data()
            db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database("idem_concurrency")


def test_the_openapi_document_describes_the_header_on_every_signed_in_post(client):
    doc = client.get("/api/openapi.json").get_json()
    param = doc["components"]["parameters"]["IdempotencyKey"]
    assert (param["in"], param["name"], param["required"]) == ("header", "Idempotency-Key", False)
    assert param["schema"]["pattern"] == "^[!-~]{1,128}$"
    posts = [(path, op) for path, item in doc["paths"].items() for method, op in item.items() if method == "post"]
    assert len(posts) > 30
    for path, op in posts:
        has = {"$ref": "#/components/parameters/IdempotencyKey"} in op.get("parameters", [])
        assert has == (op["x-roles"] != "public"), path
        if has:
            assert {"400", "409", "422"} <= set(op["responses"]), path
    assert doc["components"]["responses"]["UnprocessableEntity"]["content"]["application/json"]["example"] == \
        {"success": False, "message": "Idempotency-Key was already used for a different request"}
