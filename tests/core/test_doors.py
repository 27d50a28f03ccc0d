"""emrs/doors.py: which door a request came in by, and how each door answers a domain
error that no view turned into something better (one handler, registered on the app)."""
from __future__ import annotations

import pytest

from emrs import create_app, doors
from emrs.auth.permissions import PERMISSIONS, PUBLIC
from emrs.errors import NotFound, ValidationError, field_error
from emrs.extensions import db

from ..conftest import make_config

HX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


@pytest.mark.parametrize("path, headers, door", [
    ("/patients/", {}, doors.PAGE),
    ("/patients/", HX, doors.FRAGMENT),
    ("/patients/", BOOSTED, doors.PAGE),            # a boosted link swaps the whole body
    ("/patients/", {"HX-Request": "false"}, doors.PAGE),
    ("/api", {}, doors.API), ("/api/patients", HX, doors.API), ("/api/no-such-route", {}, doors.API),
    ("/fhir", {}, doors.FHIR), ("/fhir/Patient/1", {}, doors.FHIR),
    ("/apix", {}, doors.PAGE), ("/fhirish", {}, doors.PAGE),
])
def test_each_request_comes_in_by_one_door(app, path, headers, door):
    with app.test_request_context(path, headers=headers):
        assert doors.door() == door
        assert doors.is_htmx() == (headers == HX)  # what a page view asks before answering with a fragment
        assert doors.is_api_or_fhir() == (door in (doors.API, doors.FHIR))


def test_htmx_sent_it_whether_boosted_or_not(app):
    for headers, sent in ((HX, True), (BOOSTED, True), ({}, False)):
        with app.test_request_context("/profile", headers=headers):
            assert doors.sent_by_htmx() is sent  # a redirect to sign in must then be HX-Redirect


def _refuse():
    raise ValidationError("Visit date is in the future", code="BAD_DATE",
                          errors=[field_error("visit_date", "Visit date is in the future", "2999-01-01")])


def _missing():
    raise NotFound("Patient not found")


@pytest.fixture(scope="module")
def refusing_app():
    """An app with one route per door whose view lets a service's refusal through."""
    app = create_app(make_config("doors", database=False))
    for rule, endpoint, view in (("/refuse", "t_refuse_page", _refuse), ("/missing", "t_missing_page", _missing),
                                 ("/api/refuse", "t_refuse_api", _refuse), ("/fhir/missing", "t_missing_fhir", _missing)):
        app.add_url_rule(rule, endpoint, view)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def refusing(refusing_app, monkeypatch):
    for endpoint in ("t_refuse_page", "t_missing_page", "t_refuse_api", "t_missing_fhir"):
        monkeypatch.setitem(PERMISSIONS, endpoint, PUBLIC)
    return refusing_app.test_client()


def test_the_api_answers_a_domain_error_in_its_envelope(refusing):
    resp = refusing.get("/api/refuse")
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    assert resp.get_json() == {"success": False, "message": "Visit date is in the future", "code": "BAD_DATE",
                               "errors": [{"type": "field", "value": "2999-01-01", "msg": "Visit date is in the future",
                                           "path": "visit_date", "location": "body"}]}


def test_fhir_answers_a_domain_error_with_an_operation_outcome(refusing):
    resp = refusing.get("/fhir/missing")
    assert resp.status_code == 404 and resp.mimetype == "application/fhir+json"
    assert resp.get_json(force=True) == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "not-found", "diagnostics": "Patient not found"}]}


@pytest.mark.parametrize("headers", [{}, HX])
def test_a_page_or_fragment_answers_a_domain_error_with_the_error_page(refusing, headers):
    resp = refusing.get("/missing", headers=headers)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "<h1>Not found</h1>" in html and "<p>Patient not found</p>" in html and "Error 404" in html
    resp = refusing.get("/refuse", headers=headers)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "<p>Visit date is in the future</p>" in html and "Error 400" in html
