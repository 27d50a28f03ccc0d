"""/api/medicines: the formulary as JSON (list, search, get, add, retire)."""
from __future__ import annotations

import pytest

from emrs.prescriptions import formulary as svc

EXPECTED = 92  # 98 generic names, 6 of them merged into the entries they mean (migration 0014)


def test_list_paginates_active_medicines(client, h):
    resp = client.get("/api/medicines?limit=10&page=2", headers=h["resident"])
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["pagination"] == {"page": 2, "limit": 10, "total": EXPECTED, "pages": 10}
    assert len(data["medicines"]) == 10
    m = data["medicines"][0]
    assert set(m) >= {"id", "generic_name", "drug_class", "brand_names", "strengths", "is_active"}


def test_list_filter_and_retired(client, h, ctx):
    data = client.get("/api/medicines?q=nexito", headers=h["faculty"]).get_json()["data"]
    assert [m["generic_name"] for m in data["medicines"]] == ["Escitalopram"]
    row = svc.by_generic("Escitalopram")
    assert client.delete(f"/api/medicines/{row.id}", headers=h["faculty"]).status_code == 200
    assert client.get("/api/medicines?q=nexito", headers=h["faculty"]).get_json()["data"]["medicines"] == []
    data = client.get("/api/medicines?q=nexito&include_retired=true", headers=h["faculty"]).get_json()["data"]
    assert data["medicines"][0]["is_active"] is False


def test_bad_pagination_is_400(client, h):
    assert client.get("/api/medicines?page=0", headers=h["resident"]).status_code == 400
    assert client.get("/api/medicines?limit=x", headers=h["resident"]).status_code == 400


def test_search(client, h):
    results = client.get("/api/medicines/search?q=nex", headers=h["resident"]).get_json()["data"]["results"]
    assert results[0] == {"label": "Nexito (Escitalopram)", "medicine": "Nexito", "generic": "Escitalopram",
                          "brand": "Nexito", "strengths": ["5mg", "10mg", "20mg"], "forms": ["tablet"],
                          "drug_class": "antidepressants / ssri"}
    results = client.get("/api/medicines/search?q=ESCIT", headers=h["resident"]).get_json()["data"]["results"]
    assert results[0]["label"] == "Escitalopram" and results[1]["generic"] == "Escitalopram"
    assert client.get("/api/medicines/search?q=", headers=h["resident"]).get_json()["data"]["results"] == []


def test_get(client, h, ctx):
    row = svc.by_generic("Lithium Carbonate")
    data = client.get(f"/api/medicines/{row.id}", headers=h["admin"]).get_json()["data"]["medicine"]
    assert data["brand_names"] == ["Lithosun", "Licab"] and data["drug_class"] == "mood stabilizers"
    resp = client.get("/api/medicines/99999999", headers=h["admin"])
    assert resp.status_code == 404 and resp.get_json()["success"] is False


def test_create_and_duplicate(client, h):
    body = {"generic_name": "Vilazodone", "drug_class": "antidepressants / others", "brand_names": ["Vilafy"],
            "strengths": ["20mg", "40mg"]}
    resp = client.post("/api/medicines", json=body, headers=h["admin"])
    assert resp.status_code == 201
    med = resp.get_json()["data"]["medicine"]
    assert med["generic_name"] == "Vilazodone" and med["is_active"] is True and med["brand_names"] == ["Vilafy"]
    resp = client.post("/api/medicines", json={"name": "VILAZODONE"}, headers=h["faculty"])
    assert resp.status_code == 409 and resp.get_json()["message"] == "Medicine already exists"
    # the LATER field names are accepted too
    resp = client.post("/api/medicines", json={"name": "Esketamine", "category": "antidepressants"},
                       headers=h["faculty"])
    assert resp.status_code == 201 and resp.get_json()["data"]["medicine"]["drug_class"] == "antidepressants"


@pytest.mark.parametrize("body", [{}, {"generic_name": ""}, {"generic_name": 5},
                                  {"generic_name": "X", "brand_names": "a\x00b"}])
def test_create_validation(client, h, body):
    resp = client.post("/api/medicines", json=body, headers=h["admin"])
    assert resp.status_code == 400


@pytest.mark.parametrize("role,status", [("admin", 200), ("faculty", 200), ("resident", 200), ("pwo", 403)])
def test_read_roles(client, h, role, status):
    assert client.get("/api/medicines", headers=h[role]).status_code == status
    assert client.get("/api/medicines/search?q=a", headers=h[role]).status_code == status


@pytest.mark.parametrize("role", ["resident", "pwo"])
def test_write_roles(client, h, role, ctx):
    assert client.post("/api/medicines", json={"generic_name": "Newdrug"}, headers=h[role]).status_code == 403
    row = svc.by_generic("Haloperidol")
    assert client.delete(f"/api/medicines/{row.id}", headers=h[role]).status_code == 403


def test_unauthenticated(client):
    assert client.get("/api/medicines").status_code == 401
