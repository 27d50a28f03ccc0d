"""ICD picker: the ICD-10 index and search, hand-typed ICD-11 codes, the HTMX fragment
and the JSON route."""
from __future__ import annotations

import time

import pytest

from emrs.clinical import icd


def codes(results):
    return [r["code"] for r in results]


def test_words_rank_chapter_v_and_depressive_episode_first():
    res = icd.search("depress")
    assert res[0] == {"code": "F32", "title": "Depressive episode", "system": "ICD-10", "chapter": "V"}
    got = codes(res)
    assert "F33" in got and any(c.startswith("F32.") for c in got[:3])
    assert all(r["chapter"] == "V" for r in res)  # mental disorders before any other chapter
    assert len(res) == 15


def test_all_words_must_match_case_insensitively():
    res = icd.search("SEVERE Depressive psychotic")
    assert res and all(all(w in r["title"].lower() for w in ("severe", "depressive", "psychotic")) for r in res)
    assert "F32.3" in codes(res)
    assert icd.search("depress zzzqqq") == []


def test_other_chapters_follow_chapter_v():
    res = icd.search("alcohol", limit=200)
    chapters = [r["chapter"] for r in res]
    assert chapters[0] == "V" and "V" not in chapters[chapters.index(next(c for c in chapters if c != "V")):]


@pytest.mark.parametrize("q,first,prefix", [("F20", "F20", "F20"), ("f32", "F32", "F32"),
                                            ("F32.1", "F32.1", "F321"), ("F3", "F30", "F3"),
                                            ("f321", "F32.1", "F321")])
def test_code_prefix(q, first, prefix):
    res = icd.search(q, limit=50)
    assert res[0]["code"] == first
    assert all(r["code"].replace(".", "").startswith(prefix) for r in res)


def test_f20_lists_the_schizophrenias_in_order():
    got = codes(icd.search("F20"))
    assert got[:4] == ["F20", "F20.0", "F20.1", "F20.2"] and "F20.9" in got


def test_code_prefix_with_words_and_no_chapters_or_blocks():
    assert codes(icd.search("F32 mild")) == ["F32.0"]
    assert icd.search("V") and all(r["code"] != "V" for r in icd.search("V", limit=500))
    assert not any("-" in r["code"] for r in icd.search("disorders", limit=500))


def test_empty_and_limits():
    assert icd.search("") == [] and icd.search(None) == [] and icd.search("   ") == []
    assert len(icd.search("disorder", limit=3)) == 3


def test_search_is_fast_once_built():
    icd.index()
    start = time.perf_counter()
    for q in ("depress", "F3", "schizo", "anxiety disorder", "alcohol"):
        icd.search(q)
    # Generous for a loaded machine: a few ms each normally.
    assert (time.perf_counter() - start) / 5 < 0.1


@pytest.mark.parametrize("typed,code", [("6A70", "6A70"), ("6a70.1", "6A70.1"), ("6B20.Z", "6B20.Z"),
                                        (" 6A00 ", "6A00")])
def test_icd11_typed_code_is_accepted(typed, code):
    parsed = icd.parse_code(typed)
    assert parsed["code"] == code and parsed["system"] == "ICD-11"
    assert icd.validate(typed, "ICD-11") is not None


def test_icd11_titles_when_known():
    assert icd.parse_code("6A70")["title"] == "Single episode depressive disorder"
    assert icd.parse_code("6A70.1")["title"] is None
    assert icd.validate("6A70", "ICD-11") == "Single episode depressive disorder"
    assert icd.validate("6A70.1", "ICD-11") == ""


@pytest.mark.parametrize("bad", ["6A7", "6A700", "A670", "6A70.123", "6a70..1", "", None])
def test_malformed_icd11_is_rejected(bad):
    assert icd.validate(bad, "ICD-11") is None


def test_icd10_parse_and_validate():
    assert icd.parse_code("f321") == {"code": "F32.1", "system": "ICD-10", "title": "Moderate depressive episode"}
    assert icd.parse_code("F30-F39") is None and icd.parse_code("zz") is None
    assert icd.validate("F20.0", "ICD-10") == "Paranoid schizophrenia"
    assert icd.validate("F20.0", "ICD-11") is None and icd.validate("F99.9", "ICD-10") is None
    assert icd.validate("F20.0", "DSM") is None


# ------------------------------------------------------------------ routes

def test_fragment_lists_clickable_options(role_client):
    c = role_client("pwo")
    resp = c.get("/clinical/icd-search?q=depress", headers={"HX-Request": "true"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.count("<button type=\"button\"") == 15
    first = html.index('data-icd-code="F32"')
    assert 'data-icd-title="Depressive episode"' in html[first:first + 200]
    assert 'data-icd-system="ICD-10"' in html
    assert "typed by hand" not in html


def test_fragment_offers_a_typed_icd11_code(role_client):
    html = role_client("resident").get("/clinical/icd-search?q=6a70").get_data(as_text=True)
    assert "Use ICD-11 code 6A70 (typed by hand)" in html
    assert 'data-icd-code="6A70"' in html and 'data-icd-system="ICD-11"' in html
    assert 'data-icd-title="Single episode depressive disorder"' in html


def test_fragment_reads_the_picker_input_name(role_client):
    html = role_client("resident").get("/clinical/icd-search?icd_query=F20").get_data(as_text=True)
    assert 'data-icd-code="F20"' in html


def test_fragment_short_query_is_empty_and_no_match_says_so(role_client):
    c = role_client("faculty")
    assert c.get("/clinical/icd-search?q=d").get_data(as_text=True).strip() == ""
    assert c.get("/clinical/icd-search").get_data(as_text=True).strip() == ""
    html = c.get("/clinical/icd-search?q=qqzzxx").get_data(as_text=True)
    assert "No ICD-10 code matches" in html and "<button" not in html


def test_fragment_escapes_the_query(role_client):
    html = role_client("admin").get("/clinical/icd-search?q=<script>x").get_data(as_text=True)
    assert "<script>" not in html


@pytest.mark.parametrize("key", ["admin", "faculty", "resident", "pwo"])
def test_fragment_roles(role_client, key):
    assert role_client(key).get("/clinical/icd-search?q=F20").status_code == 200


def test_fragment_needs_sign_in(client):
    resp = client.get("/clinical/icd-search?q=F20")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_api_search(client, users, bearer):
    h = bearer(users["pwo"])
    body = client.get("/api/icd/search?q=F20", headers=h).get_json()
    assert body["success"] is True
    assert body["data"]["results"][0] == {"code": "F20", "title": "Schizophrenia", "system": "ICD-10",
                                          "chapter": "V"}
    body = client.get("/api/icd/search?q=6B20.Z", headers=h).get_json()
    assert body["data"]["typed"] == {"code": "6B20.Z", "system": "ICD-11", "title": None}
    assert client.get("/api/icd/search?q=d", headers=h).get_json()["data"]["results"] == []
    assert len(client.get("/api/icd/search?q=disorder&limit=5", headers=h).get_json()["data"]["results"]) == 5
    assert client.get("/api/icd/search?q=F20").status_code == 401
