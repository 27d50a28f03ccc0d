"""One version, kept in emrs/config.py (not in the package's __init__), is what the API's root
document, the OpenAPI document and FHIR's CapabilityStatement report."""
from __future__ import annotations

import emrs
from emrs.config import VERSION


def test_every_door_reports_the_one_version(client):
    assert not hasattr(emrs, "__version__")
    assert VERSION == "1.0.0"
    assert client.get("/", headers={"Accept": "application/json"}).get_json()["version"] == VERSION
    assert client.get("/api/openapi.json").get_json()["info"]["version"] == VERSION
    assert client.get("/fhir/metadata").get_json()["software"] == {"name": "EMRS", "version": VERSION}
