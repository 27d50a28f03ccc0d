"""Item 15: every absolute link /fhir gives out is built on PUBLIC_BASE_URL, never on the
request's Host header (a forged Host would otherwise send an integrator's next request,
with its bearer token, to another server)."""
from __future__ import annotations

import pytest

from .conftest import fhir_body

BASE = "https://emrs.hospital.example"


@pytest.fixture
def public_base(app):
    previous = app.config.get("PUBLIC_BASE_URL")
    app.config["PUBLIC_BASE_URL"] = BASE + "/"
    yield BASE
    app.config["PUBLIC_BASE_URL"] = previous


def _urls(bundle: dict) -> list[str]:
    return [l["url"] for l in bundle["link"]] + [e["fullUrl"] for e in bundle.get("entry", [])]


def test_links_use_the_configured_base_not_the_host_header(client, h, clinical_patient, public_base):
    evil = {**h["resident"], "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    pid = clinical_patient["patient"]["id"]
    body = fhir_body(client.get("/fhir/metadata", headers={"Host": "evil.example"}))
    assert body["implementation"]["url"] == f"{BASE}/fhir"
    bundle = fhir_body(client.get("/fhir/Patient", query_string={"name": "Gurnam", "_count": "1"}, headers=evil))
    everything = fhir_body(client.get(f"/fhir/Patient/{pid}/$everything", headers=evil))
    paged = fhir_body(client.get("/fhir/MedicationRequest", query_string={"patient": f"Patient/{pid}", "_count": "1"},
                                 headers=evil))
    urls = _urls(bundle) + _urls(everything) + _urls(paged)
    assert len(urls) >= 6
    assert any("_page=2" in u for u in urls)  # a next link is among them
    for url in urls:
        assert url.startswith(f"{BASE}/fhir/"), url
        assert "evil.example" not in url
    assert f"{BASE}/fhir/Patient/{pid}" in urls


def test_default_base_is_localhost_whatever_the_host(client, h, clinical_patient):
    body = fhir_body(client.get("/fhir/Patient", query_string={"name": "Gurnam"},
                                headers={**h["resident"], "Host": "evil.example"}))
    assert all(u.startswith("http://localhost/fhir/") for u in _urls(body))
