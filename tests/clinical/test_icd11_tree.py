"""The ICD-11 tree: browsing as pages (chapters → entries, expanded by HTMX fragments, pickable
inside the proforma's picker), the JSON doors (/api/icd11/entities, /api/icd/search), and the
hospital's local additions — an Admin's act on every door, refused to everyone else, audited,
never touching WHO's entries."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.clinical import icd, icd11
from emrs.clinical.models import Icd11Entity
from emrs.extensions import db

STEMS = ["6A00", "6A02", "6A05", "6A20", "6A21", "6A24", "6A60", "6A61", "6A70", "6A71", "6A72", "6B00", "6B01",
         "6B20", "6B40"]
NOT_ADMIN = ("faculty", "resident", "pwo")


@pytest.fixture
def h(users, bearer):
    return {k: bearer(u) for k, u in users.items()}


@pytest.fixture
def chapter():
    return icd11.roots()[0]


@pytest.fixture
def local(users, chapter):
    return icd11.add_local(chapter.id, "Local entry (test data)", "6A70.L1", users["admin"])


def _codes(html: str) -> list[str]:
    return re.findall(r'<span class="icd-code">([^<]+)</span>', html)


# ------------------------------------------------------------------ browsing

def test_the_tree_page_shows_the_chapters_with_licence_and_release(role_client, chapter):
    resp = role_client("resident").get("/clinical/icd11")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Chapter 06 · Mental, behavioural or neurodevelopmental disorders" in html
    assert "CC BY-ND 3.0 IGO" in html and "World Health Organization" in html
    assert "Loaded: release <strong>2026-01</strong> (chapter 06: 16)</p>" in html
    assert f'hx-get="/clinical/icd11/{chapter.id}/children"' in html and 'aria-expanded="false"' in html
    assert "Add local entry" not in html and "Local additions" not in html  # not an Admin
    assert '<script src="/static/js/icd11-tree.js"' in html and "<script>" not in html


def test_children_fragment_lists_the_entries_in_order(role_client, chapter):
    c = role_client("faculty")
    html = c.get(f"/clinical/icd11/{chapter.id}/children", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in html and _codes(html) == STEMS
    assert "Single episode depressive disorder" in html and "data-icd-code" not in html  # shown, not pickable
    picked = c.get(f"/clinical/icd11/{chapter.id}/children?pick=1").get_data(as_text=True)
    assert 'data-icd-code="6A70" data-icd-title="Single episode depressive disorder"' in picked
    assert picked.count('data-icd-system="ICD-11"') == 15
    # The whole tree as the picker's fragment: the chapters, with pick mode carried to their children.
    root = c.get("/clinical/icd11?pick=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in root and f"/clinical/icd11/{chapter.id}/children?pick=1" in root


def test_children_of_a_missing_entry(role_client):
    resp = role_client("resident").get("/clinical/icd11/999999/children")
    assert resp.status_code == 404 and "does not exist" in resp.get_data(as_text=True)


def test_tree_pages_are_for_clinicians_and_admin(role_client, client, chapter):
    for key in ("admin", "faculty", "resident"):
        assert role_client(key).get("/clinical/icd11").status_code == 200
    pwo = role_client("pwo")
    assert pwo.get("/clinical/icd11").status_code == 403
    assert pwo.get(f"/clinical/icd11/{chapter.id}/children").status_code == 403
    assert client.get("/clinical/icd11").headers["Location"].startswith("/login")


def test_proforma_form_offers_the_tree_inside_the_picker(role_client, client, users, bearer):
    pid = client.post("/api/patients/register-complete", json={"name": "Tree Patient", "age": 30, "sex": "F"},
                      headers=bearer(users["pwo"])).get_json()["data"]["patient"]["id"]
    html = role_client("resident").get(f"/clinical/proformas/new?patient_id={pid}").get_data(as_text=True)
    picker = html[html.index("data-icd-picker"):html.index('id="f-icd_code"')]
    assert 'hx-get="/clinical/icd11?pick=1"' in picker and "Browse the ICD-11 chapters" in picker
    assert "Find an ICD-11 or ICD-10 code" in picker


# ------------------------------------------------------------------ JSON doors

def test_api_entities_chapters_children_search_and_one(client, h, chapter):
    body = client.get("/api/icd11/entities", headers=h["pwo"]).get_json()
    assert body["success"] is True
    (ch,) = body["data"]["entities"]
    assert ch == {**ch, "id": chapter.id, "code": None, "class_kind": "chapter", "chapter_no": "06", "children": 15,
                  "release": "2026-01", "source": "who", "is_active": True, "version": "2026-01"}
    kids = client.get(f"/api/icd11/entities?parent={chapter.id}", headers=h["pwo"]).get_json()["data"]["entities"]
    assert [k["code"] for k in kids] == STEMS and kids[8]["title"] == "Single episode depressive disorder"
    assert set(kids[0]) == {"id", "parent_id", "code", "block_id", "title", "class_kind", "chapter_no", "depth",
                            "is_residual", "is_leaf", "foundation_uri", "release", "source", "is_active", "version",
                            "added_by", "added_at", "children"}
    found = client.get("/api/icd11/entities?q=6a7", headers=h["faculty"]).get_json()["data"]["entities"]
    assert [f["code"] for f in found] == ["6A70", "6A71", "6A72"] and found[0]["system"] == "ICD-11"
    one = client.get(f"/api/icd11/entities/{kids[8]['id']}", headers=h["resident"]).get_json()["data"]
    assert one["entity"]["code"] == "6A70" and [p["id"] for p in one["path"]] == [chapter.id]
    assert one["children"] == []
    assert client.get("/api/icd11/entities?parent=abc", headers=h["pwo"]).status_code == 400
    assert client.get("/api/icd11/entities?parent=999999", headers=h["pwo"]).status_code == 404
    assert client.get("/api/icd11/entities/999999", headers=h["pwo"]).status_code == 404
    assert client.get("/api/icd11/entities").status_code == 401


def test_picker_doors_answer_both_systems(client, h, role_client):
    data = client.get("/api/icd/search?q=schizo&limit=6", headers=h["pwo"]).get_json()["data"]
    systems = [r["system"] for r in data["results"]]
    assert systems[:2] == ["ICD-11", "ICD-11"] and "ICD-10" in systems
    assert data["results"][0]["code"] == "6A20" and data["results"][0]["release"] == "2026-01"
    ten = [r for r in data["results"] if r["system"] == "ICD-10"][0]
    assert ten["version"] == "2019" and "release" not in ten
    only10 = client.get("/api/icd/search?q=schizo&system=ICD-10", headers=h["pwo"]).get_json()["data"]["results"]
    assert {r["system"] for r in only10} == {"ICD-10"}
    html = role_client("resident").get("/clinical/icd-search?q=schizo", headers={"HX-Request": "true"}
                                       ).get_data(as_text=True)
    assert html.index('data-icd-code="6A20"') < html.index('data-icd-code="F20"')
    assert '<span class="icd-tag icd-tag-11" title="ICD-11 2026-01">ICD-11 <small>2026-01</small></span>' in html
    assert '<span class="icd-tag icd-tag-10" title="ICD-10 2019">ICD-10</span>' in html


def test_search_by_code_prefix_and_title_words():
    assert [r["code"] for r in icd11.search("6A2")] == ["6A20", "6A21", "6A24"]
    assert [r["code"] for r in icd11.search("6a701")] == []           # 6A70.1 is not in the default tree
    assert [r["code"] for r in icd11.search("6B4")] == ["6B40"]
    assert [r["code"] for r in icd11.search("bipolar disorder")] == ["6A60", "6A61"]
    assert [r["code"] for r in icd11.search("DISORDER bipolar type ii")] == ["6A61"]
    assert icd11.search("6A7 recurrent")[0]["code"] == "6A71"
    assert icd11.search("100%_") == [] and icd11.search("") == [] and icd11.search(None) == []
    # Ranking: a title that starts with the word first.
    assert icd11.search("panic")[0]["code"] == "6B01"
    assert [r["code"] for r in icd11.search("anxiety")] == ["6B00"]


# ------------------------------------------------------------------ local additions (Admin only)

def test_admin_adds_a_local_entry_on_the_page(role_client, chapter, users):
    c = role_client("admin")
    form = c.get(f"/clinical/icd11/{chapter.id}/local").get_data(as_text=True)
    assert "Under: Mental, behavioural or neurodevelopmental disorders" in form and 'maxlength="200"' in form
    resp = c.post(f"/clinical/icd11/{chapter.id}/local", data={"title": "  Dhat   syndrome (local) ", "code": "6z90"})
    assert resp.status_code == 303
    row = db.session.execute(select(Icd11Entity).where(Icd11Entity.code == "6Z90")).scalar_one()
    assert (row.title, row.source, row.class_kind, row.release, row.chapter_no) == (
        "Dhat syndrome (local)", "local", "local", None, "06")
    assert row.parent_id == chapter.id and row.added_by == users["admin"].id and row.added_at is not None
    assert resp.headers["Location"].endswith(f"/clinical/icd11#icd11-{row.id}")
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "icd11_local_add")).scalars().all()[-1]
    assert audit.entity_id == str(row.id) and audit.user_id == users["admin"].id
    assert audit.details == {"parent_id": chapter.id, "code": "6Z90"}
    page = c.get("/clinical/icd11").get_data(as_text=True)
    assert "Added the local entry “Dhat syndrome (local)”" in page and "Local additions" in page
    kids = c.get(f"/clinical/icd11/{chapter.id}/children").get_data(as_text=True)
    assert _codes(kids)[-1] == "6Z90" and '<span class="badge badge-system">local</span>' in kids
    # Searchable and codable like WHO's entries, tagged as local.
    result = icd.search("6Z9")[0]
    assert result["code"] == "6Z90" and result["source"] == "local" and result["version"] == "local"
    assert result["release"] is None


@pytest.mark.parametrize("form,field,message,status", [
    ({"title": "   ", "code": ""}, "title", "Title is required", 422),
    ({"title": "x" * 201, "code": ""}, "title", "Title must be at most 200 characters", 422),
    ({"title": "Bad\u202etitle", "code": ""}, "title", "Title must not contain control characters", 422),
    ({"title": "Fine", "code": "F32.9"}, "code", "has the shape of an ICD-10 code", 422),
    ({"title": "Fine", "code": "6A7$"}, "code", "code must be 2 to 20 letters, digits or dots", 422),
    ({"title": "Fine", "code": "6a70"}, None, "6A70 is WHO's code for “Single episode depressive disorder” "
                                              "(release 2026-01): a local entry cannot take it", 409),
])
def test_local_entry_refusals_on_the_page_change_nothing(role_client, chapter, form, field, message, status):
    before = db.session.execute(select(func.count(Icd11Entity.id))).scalar_one()
    resp = role_client("admin").post(f"/clinical/icd11/{chapter.id}/local", data=form)
    assert resp.status_code == status
    html = resp.get_data(as_text=True)
    from html import unescape
    assert message in unescape(html)
    if field:
        assert 'class="field has-error"' in html
    assert db.session.execute(select(func.count(Icd11Entity.id))).scalar_one() == before


def test_local_codes_are_unique(users, chapter, local):
    from emrs.errors import Conflict
    with pytest.raises(Conflict, match="already the code of the local entry"):
        icd11.add_local(chapter.id, "Another", "6a70.l1", users["admin"])


def test_admin_edits_and_deactivates_on_the_page(role_client, users, chapter, local):
    c = role_client("admin")
    child = icd11.add_local(local.id, "Local child (test data)", None, users["admin"])
    resp = c.post(f"/clinical/icd11/local/{local.id}/edit", data={"title": "Renamed local entry", "code": "6A70.L2"})
    assert resp.status_code == 303
    row = db.session.get(Icd11Entity, local.id)
    assert (row.title, row.code) == ("Renamed local entry", "6A70.L2")
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "icd11_local_update")).scalars().all()[-1]
    assert audit.details["fields"] == ["title", "code"]
    resp = c.post(f"/clinical/icd11/local/{local.id}/active", data={"active": "0"})
    assert resp.status_code == 303
    assert not db.session.get(Icd11Entity, local.id).is_active and not db.session.get(Icd11Entity, child.id).is_active
    assert "and 1 local entry under it" in c.get("/clinical/icd11").get_data(as_text=True)
    assert icd.search("6A70.L") == []  # no longer offered for coding
    assert icd.resolve("6A70.L2").version == "local"  # records coded with it stay valid
    # Others no longer see it; the Admin does, to reactivate it.
    assert "Renamed local entry" not in role_client("faculty").get(f"/clinical/icd11/{chapter.id}/children"
                                                                    ).get_data(as_text=True)
    kids = c.get(f"/clinical/icd11/{chapter.id}/children").get_data(as_text=True)
    assert "Renamed local entry" in kids and "deactivated" in kids and "Reactivate" in kids
    assert c.post(f"/clinical/icd11/local/{local.id}/active", data={"active": "1"}).status_code == 303
    assert db.session.get(Icd11Entity, local.id).is_active
    assert [a.action for a in db.session.execute(select(AuditLog).where(
        AuditLog.entity == "icd11_entities", AuditLog.entity_id == str(local.id)).order_by(AuditLog.id)).scalars()] == [
        "icd11_local_add", "icd11_local_update", "icd11_local_deactivate", "icd11_local_activate"]


def test_who_entries_are_never_edited(role_client, client, h, chapter):
    stem = icd11.lookup("6A70")
    c = role_client("admin")
    resp = c.post(f"/clinical/icd11/local/{stem.id}/edit", data={"title": "Changed"})
    assert resp.status_code == 302
    from html import unescape
    assert "WHO's entries never are" in unescape(c.get(resp.headers["Location"]).get_data(as_text=True))
    resp = client.patch(f"/api/icd11/entities/{stem.id}", json={"title": "Changed"}, headers=h["admin"])
    assert resp.status_code == 403 and resp.get_json() == {
        "success": False, "message": "WHO's ICD-11 entries are never edited: add a local entry under this one instead"}
    assert client.delete(f"/api/icd11/entities/{stem.id}", headers=h["admin"]).status_code == 403
    resp = c.post(f"/clinical/icd11/local/{stem.id}/active", data={"active": "0"})
    assert resp.status_code == 302
    row = db.session.get(Icd11Entity, stem.id)
    assert row.title == "Single episode depressive disorder" and row.is_active


def test_admin_on_the_api(client, h, users, chapter):
    resp = client.post("/api/icd11/entities", json={"parent_id": chapter.id, "title": "API local entry",
                                                    "code": "6Z91"}, headers=h["admin"])
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["message"] == "Local ICD-11 entry added"
    entity = body["data"]["entity"]
    assert entity == {**entity, "code": "6Z91", "title": "API local entry", "class_kind": "local", "source": "local",
                      "release": None, "version": "local", "parent_id": chapter.id, "children": 0,
                      "added_by": users["admin"].id, "is_active": True}
    resp = client.patch(f"/api/icd11/entities/{entity['id']}", json={"title": "API local entry, renamed",
                                                                     "code": None}, headers=h["admin"])
    assert resp.status_code == 200 and resp.get_json()["data"]["entity"]["code"] is None
    resp = client.delete(f"/api/icd11/entities/{entity['id']}", headers=h["admin"])
    assert resp.status_code == 200 and resp.get_json()["data"]["entity"]["is_active"] is False
    resp = client.patch(f"/api/icd11/entities/{entity['id']}", json={"is_active": True}, headers=h["admin"])
    assert resp.get_json()["data"]["entity"]["is_active"] is True
    bad = client.post("/api/icd11/entities", json={"parent_id": chapter.id, "title": ""}, headers=h["admin"])
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["path"] == "title"
    assert client.post("/api/icd11/entities", json={"parent_id": 999999, "title": "X"},
                       headers=h["admin"]).status_code == 404
    assert client.post("/api/icd11/entities", json={"parent_id": "1", "title": "X"},
                       headers=h["admin"]).status_code == 400
    assert client.patch(f"/api/icd11/entities/{entity['id']}", json={"is_active": "yes"},
                        headers=h["admin"]).status_code == 400


@pytest.mark.parametrize("key", NOT_ADMIN)
def test_nobody_but_the_admin_adds_or_changes_local_entries_on_any_door(role_client, client, h, users, key, chapter,
                                                                        local):
    """Faculty, Resident and the welfare officer (who also keeps the record room): 403 on every
    page and every API door of a local addition, and nothing changes."""
    before = db.session.execute(select(func.count(Icd11Entity.id))).scalar_one()
    page = role_client(key)
    for method, url, data in [
            ("GET", f"/clinical/icd11/{chapter.id}/local", None),
            ("POST", f"/clinical/icd11/{chapter.id}/local", {"title": "Not allowed"}),
            ("GET", f"/clinical/icd11/local/{local.id}/edit", None),
            ("POST", f"/clinical/icd11/local/{local.id}/edit", {"title": "Not allowed"}),
            ("POST", f"/clinical/icd11/local/{local.id}/active", {"active": "0"})]:
        resp = page.open(url, method=method, data=data)
        assert resp.status_code == 403 and "Not permitted" in resp.get_data(as_text=True), (method, url)
    expected = f"Access denied. Required roles: Admin. Your role: {users[key].role}"
    for method, url, body in [
            ("POST", "/api/icd11/entities", {"parent_id": chapter.id, "title": "Not allowed"}),
            ("PATCH", f"/api/icd11/entities/{local.id}", {"title": "Not allowed"}),
            ("DELETE", f"/api/icd11/entities/{local.id}", None)]:
        resp = client.open(url, method=method, json=body, headers=h[key])
        assert resp.status_code == 403 and resp.get_json() == {"success": False, "message": expected}, (method, url)
    row = db.session.get(Icd11Entity, local.id)
    assert (row.title, row.is_active) == ("Local entry (test data)", True)
    assert db.session.execute(select(func.count(Icd11Entity.id))).scalar_one() == before
    # The service refuses too, whatever the door.
    from emrs.errors import Forbidden
    with pytest.raises(Forbidden, match="made by an Admin only"):
        icd11.add_local(chapter.id, "Not allowed", None, users[key])



def test_search_stays_fast_at_the_size_of_the_real_chapters():
    """About 1,200 entities (the four chapters' size): test rows, not WHO's."""
    import time
    parent = Icd11Entity(code=None, title="Test chapter (test data)", class_kind="chapter", chapter_no="07", depth=0,
                         release="test-size", source="who", sort_order=0)
    db.session.add(parent)
    db.session.flush()
    db.session.add_all([Icd11Entity(parent_id=parent.id, code=f"7T{n:04d}",
                                    title=f"Test category {n} of sleep-wake test data", class_kind="category",
                                    chapter_no="07", depth=1, release="test-size", source="who", sort_order=n + 1)
                        for n in range(1200)])
    db.session.flush()
    icd.index()
    for q in ("7T1", "sleep", "test category 99", "depress"):  # warm up (prepared plans)
        icd.search(q)
    start = time.perf_counter()
    for _ in range(5):
        for q in ("7T1", "sleep-wake", "test category 99", "depress", "6A7", "category 1150 test"):
            assert icd.search(q)
    assert (time.perf_counter() - start) / 30 < 0.1  # a few ms each normally; generous for a loaded machine
