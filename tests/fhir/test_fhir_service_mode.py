"""Service mode: /fhir belongs to the patient service (EMRS_SERVICES); another service's
process answers it with a FHIR 404, before any authentication."""
from __future__ import annotations

import pytest

from emrs import create_app
from emrs.extensions import db

from ..conftest import make_config
from ..dbutil import drop_database
from .conftest import issue

pytestmark = pytest.mark.no_rollback


@pytest.mark.parametrize("name, services, served", [
    ("fhir_pt", "out-patients-card-and-out-patient-record", True),
    ("fhir_rx", "prescription", False),
    ("fhir_user", "user", False),
])
def test_fhir_is_served_by_the_patient_service_only(name, services, served):
    app = create_app(make_config(name, EMRS_SERVICES=services))
    try:
        c = app.test_client()
        resp = c.get("/fhir/metadata")
        if served:
            assert resp.status_code == 200 and resp.get_json(force=True)["resourceType"] == "CapabilityStatement"
            assert c.get("/fhir/Patient/1").status_code == 401  # the route exists: it asks for a token
        else:
            assert issue(resp, 404)["code"] == "not-found"
            assert issue(c.get("/fhir/Patient/1"), 404)["code"] == "not-found"
        disabled = app.config["EMRS_DISABLED_ENDPOINTS"]
        assert ("fhir.patient_read" in disabled) is not served
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(name)
