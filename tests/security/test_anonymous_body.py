"""Item 14: a request without a sign-in is answered before its body is read — no
multipart parsing (up to MAX_CONTENT_LENGTH) for anybody who just opens a connection.
CSRF (which reads the form) runs after authentication."""
from __future__ import annotations

import io

import pytest

from ..conftest import browser_login

BOUNDARY = "emrsboundary"


class RecordingStream(io.RawIOBase):
    """A request body that records whether anybody read it (and fails if so)."""

    def __init__(self, size: int):
        self.size = size
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client asks where the stream starts
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def tell(self) -> int:
        return 0

    def readinto(self, buffer) -> int:
        self.reads += 1
        raise AssertionError("the body of an anonymous request was read")


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def _post(client, path: str, stream: RecordingStream, **headers):
    return client.post(path, input_stream=stream, headers=headers,
                       environ_overrides={"CONTENT_LENGTH": str(stream.size)},
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


@pytest.mark.parametrize("path", ["/patients/new", "/patients/1/files", "/clinical/proformas/new?patient_id=1",
                                  "/prescriptions/proforma/1", "/logout", "/profile"])
def test_anonymous_multipart_post_is_refused_without_reading_the_body(client, csrf_on, path):
    probe = client.get("/health")
    assert probe.status_code == 200
    stream = RecordingStream(200 * 1024 * 1024)
    resp = _post(client, path, stream)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"], resp.status_code
    assert stream.reads == 0
    stream = RecordingStream(200 * 1024 * 1024)
    resp = _post(client, path, stream, **{"HX-Request": "true"})
    assert resp.status_code == 401 and resp.headers.get("HX-Redirect", "").startswith("/login")
    assert stream.reads == 0


def test_anonymous_api_upload_is_refused_without_reading_the_body(client, csrf_on):
    stream = RecordingStream(200 * 1024 * 1024)
    resp = _post(client, "/api/patient-files/create", stream)
    assert resp.status_code == 401 and stream.reads == 0


def test_signed_in_post_without_a_token_is_still_refused(app, client, users, outbox):
    browser_login(client, outbox, users["pwo"])
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = client.post("/patients/new", data={"name": "Csrf Check", "age": "30", "sex": "M"})
        assert resp.status_code == 400 and "Form expired" in resp.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize("path", ["/login", "/forgot-password", "/api/users/login"])
def test_public_forms_refuse_large_anonymous_bodies_unread(client, csrf_on, path):
    stream = RecordingStream(5 * 1024 * 1024)
    resp = _post(client, path, stream)
    assert resp.status_code == 413 and stream.reads == 0
