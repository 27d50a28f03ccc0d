"""/api/clinical-options/<group> and the original /api/clinical-proformas/options/<group>
(api-contract.md §8): both prefixes answer identically."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

DEFAULTS = json.loads((Path(__file__).resolve().parents[2] / "emrs" / "data" / "clinical_options.json")
                      .read_text(encoding="utf-8"))
PREFIXES = ["/api/clinical-options", "/api/clinical-proformas/options"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_get_group(client, h, prefix):
    resp = client.get(f"{prefix}/mood", headers=h["pwo"])
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["group"] == "mood" and data["options"] == DEFAULTS["mood"]
    assert all(m["is_system"] is True and isinstance(m["id"], int) for m in data["optionsWithMeta"])
    assert [m["label"] for m in data["optionsWithMeta"]] == DEFAULTS["mood"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_unknown_group_get_is_empty_and_writes_are_400(client, h, prefix):
    assert client.get(f"{prefix}/nope", headers=h["resident"]).get_json()["data"] == \
        {"group": "nope", "options": [], "optionsWithMeta": []}
    for method in ("post", "delete"):
        resp = getattr(client, method)(f"{prefix}/nope", json={"label": "X"}, headers=h["resident"])
        assert resp.status_code == 400 and resp.get_json()["message"] == "Unknown option group"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_all_groups(client, h, prefix):
    data = client.get(prefix, headers=h["pwo"]).get_json()["data"]
    assert set(data) == set(DEFAULTS) | {"nature_of_information"}
    assert data["behaviour"] == DEFAULTS["behaviour"] and data["family_history"] == []


@pytest.mark.parametrize("prefix", PREFIXES)
def test_post_adds_and_duplicates_are_not_added(client, h, prefix):
    resp = client.post(f"{prefix}/somatic", json={"label": " Back ache "}, headers=h["pwo"])
    assert resp.status_code == 201
    data = resp.get_json()["data"]
    assert data["group"] == "somatic" and data["options"] == DEFAULTS["somatic"] + ["Back ache"]
    assert data["option"]["is_system"] is False
    resp = client.post(f"{prefix}/somatic", json={"label": "BACK ACHE"}, headers=h["resident"])
    assert resp.status_code == 201 and resp.get_json()["data"]["options"] == DEFAULTS["somatic"] + ["Back ache"]
    resp = client.post(f"{prefix}/somatic", json={"label": "pains"}, headers=h["resident"])
    assert resp.status_code == 201 and resp.get_json()["data"]["options"].count("Pains") == 1


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("body", [{}, {"label": ""}, {"label": "   "}, {"label": 5}, {"lbl": "x"}])
def test_post_label_required(client, h, prefix, body):
    resp = client.post(f"{prefix}/mood", json=body, headers=h["pwo"])
    assert resp.status_code == 400 and resp.get_json()["message"] == "Label is required"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_post_bad_json_and_long_label(client, h, prefix):
    resp = client.post(f"{prefix}/mood", data="{oops", content_type="application/json", headers=h["pwo"])
    assert resp.status_code == 400
    resp = client.post(f"{prefix}/mood", json={"label": "x" * 300}, headers=h["pwo"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "label"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_delete(client, h, prefix):
    client.post(f"{prefix}/fits", json={"label": "Pseudo-seizure"}, headers=h["resident"])
    resp = client.delete(f"{prefix}/fits", json={"label": "pseudo-seizure"}, headers=h["resident"])
    assert resp.status_code == 200 and resp.get_json()["data"]["options"] == DEFAULTS["fits"]
    resp = client.delete(f"{prefix}/fits", json={"label": "Pseudo-seizure"}, headers=h["resident"])
    assert resp.status_code == 404 and resp.get_json()["message"] == "Option not found"
    add = client.post(f"{prefix}/fits", json={"label": "Febrile"}, headers=h["faculty"]).get_json()["data"]
    resp = client.delete(f"{prefix}/fits", json={"id": add["option"]["id"]}, headers=h["faculty"])
    assert resp.status_code == 200 and "Febrile" not in resp.get_json()["data"]["options"]
    resp = client.delete(f"{prefix}/fits", headers=h["faculty"])
    assert resp.status_code == 400


@pytest.mark.parametrize("prefix", PREFIXES)
def test_delete_system_option_is_403(client, h, prefix):
    resp = client.delete(f"{prefix}/fits", json={"label": "Epileptic"}, headers=h["admin"])
    assert resp.status_code == 403 and resp.get_json()["message"] == "System options cannot be deleted"
    assert "Epileptic" in client.get(f"{prefix}/fits", headers=h["admin"]).get_json()["data"]["options"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_roles(client, h, prefix):
    assert client.get(f"{prefix}/mood").status_code == 401
    assert client.post(f"{prefix}/mood", json={"label": "X"}).status_code == 401
    client.post(f"{prefix}/mood", json={"label": "Restless"}, headers=h["pwo"])
    resp = client.delete(f"{prefix}/mood", json={"label": "Restless"}, headers=h["pwo"])
    assert resp.status_code == 403  # DELETE: Admin, Faculty, Resident only
    for key in ("admin", "faculty", "resident", "pwo"):
        assert client.get(f"{prefix}/mood", headers=h[key]).status_code == 200


def test_both_prefixes_answer_identically(client, h):
    client.post("/api/clinical-options/speech", json={"label": "Stammering"}, headers=h["pwo"])
    a = client.get("/api/clinical-options/speech", headers=h["pwo"]).get_json()
    b = client.get("/api/clinical-proformas/options/speech", headers=h["pwo"]).get_json()
    assert a == b and "Stammering" in a["data"]["options"]
    a = client.get("/api/clinical-options", headers=h["pwo"]).get_json()
    b = client.get("/api/clinical-proformas/options", headers=h["pwo"]).get_json()
    assert a == b


def test_changes_are_audited(client, h, users):
    from sqlalchemy import select

    from emrs.audit.models import AuditLog
    from emrs.extensions import db
    client.post("/api/clinical-options/mood", json={"label": "Numb"}, headers=h["resident"])
    client.delete("/api/clinical-options/mood", json={"label": "Numb"}, headers=h["resident"])
    rows = db.session.execute(select(AuditLog).where(AuditLog.entity == "clinical_options")
                              .order_by(AuditLog.id)).scalars().all()
    assert [r.action for r in rows][-2:] == ["clinical_option_add", "clinical_option_delete"]
    assert all(r.user_id == users["resident"].id for r in rows[-2:])
