"""ICD picker: the ICD-10 index and search, the combined ICD-11 + ICD-10 search, hand-typed
ICD-11 codes, the HTMX fragment and the JSON route. (The ICD-11 tree itself, its import and
local additions: test_icd11*.py.)"""
from __future__ import annotations

import time

import pytest

from emrs.clinical import icd


def codes(results):
    return [r["code"] for r in results]


def test_words_rank_chapter_v_and_depressive_episode_first():
    res = icd.search_icd10("depress")
    assert res[0] == {"code": "F32", "title": "Depressive episode", "system": "ICD-10", "chapter": "V",
                      "version": "2019"}
    got = codes(res)
    assert "F33" in got and any(c.startswith("F32.") for c in got[:3])
    assert all(r["chapter"] == "V" for r in res)  # mental disorders before any other chapter
    assert len(res) == 15


def test_all_words_must_match_case_insensitively():
    res = icd.search_icd10("SEVERE Depressive psychotic")
    assert res and all(all(w in r["title"].lower() for w in ("severe", "depressive", "psychotic")) for r in res)
    assert "F32.3" in codes(res)
    assert icd.search_icd10("depress zzzqqq") == [] and icd.search("depress zzzqqq") == []


def test_other_chapters_follow_chapter_v():
    res = icd.search_icd10("alcohol", limit=200)
    chapters = [r["chapter"] for r in res]
    assert chapters[0] == "V" and "V" not in chapters[chapters.index(next(c for c in chapters if c != "V")):]


@pytest.mark.parametrize("q,first,prefix", [("F20", "F20", "F20"), ("f32", "F32", "F32"),
                                            ("F32.1", "F32.1", "F321"), ("F3", "F30", "F3"),
                                            ("f321", "F32.1", "F321")])
def test_code_prefix(q, first, prefix):
    res = icd.search(q, limit=50)  # an ICD-10 code prefix finds only ICD-10 codes
    assert res[0]["code"] == first and {r["system"] for r in res} == {"ICD-10"}
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
    coded = icd.resolve(typed)
    assert coded is not None and coded.system == "ICD-11" and coded.code == code


def test_icd11_titles_and_release_from_the_loaded_tree():
    """The default tree (migration 0017): the hand-checked stems, release 2026-01."""
    assert icd.parse_code("6A70") == {"code": "6A70", "system": "ICD-11", "title": "Single episode depressive disorder",
                                      "version": "2026-01", "in_release": True}
    assert icd.parse_code("6A70.1") == {"code": "6A70.1", "system": "ICD-11", "title": None, "version": None,
                                        "in_release": False}
    assert icd.resolve("6b40") == icd.Coded("6B40", "ICD-11", "Post traumatic stress disorder", "2026-01")
    assert icd.resolve("6A70.1") == icd.Coded("6A70.1", "ICD-11", None, None)  # well formed, not loaded


@pytest.mark.parametrize("bad", ["6A7", "6A700", "6A70.123", "6a70..1", "", None, "F30-F39", "zz"])
def test_malformed_codes_are_rejected(bad):
    assert icd.resolve(bad) is None


def test_icd10_parse_and_resolve():
    assert icd.resolve("A670").code == "A67.0"  # a dotless ICD-10 code, not a malformed ICD-11 one
    assert icd.parse_code("f321") == {"code": "F32.1", "system": "ICD-10", "title": "Moderate depressive episode",
                                      "version": "2019", "in_release": True}
    assert icd.parse_code("F30-F39") is None and icd.parse_code("zz") is None
    assert icd.resolve("F20.0") == icd.Coded("F20.0", "ICD-10", "Paranoid schizophrenia", "2019")
    assert icd.resolve("f321").code == "F32.1"
    # Well formed, not in ICD-10 2019: accepted as typed, with no title and no version.
    assert icd.resolve("F99.9") == icd.Coded("F99.9", "ICD-10", None, None)


def test_combined_search_icd11_first_and_both_systems():
    res = icd.search("depress")
    assert [r["code"] for r in res[:2]] == ["6A70", "6A71"]
    assert res[0] == {"code": "6A70", "title": "Single episode depressive disorder", "system": "ICD-11",
                      "chapter": "06", "release": "2026-01", "version": "2026-01", "source": "who",
                      "id": res[0]["id"]}
    assert res[2]["code"] == "F32" and res[2]["system"] == "ICD-10" and len(res) == 15
    assert [r["system"] for r in icd.search("schizo", limit=4)] == ["ICD-11", "ICD-11", "ICD-10", "ICD-10"]
    assert {r["system"] for r in icd.search("depress", system="ICD-10")} == {"ICD-10"}
    assert {r["system"] for r in icd.search("depress", system="ICD-11")} == {"ICD-11"}


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


def test_fragment_lists_loaded_icd11_codes_and_offers_others_as_typed(role_client):
    c = role_client("resident")
    html = c.get("/clinical/icd-search?q=6a70").get_data(as_text=True)
    assert "typed by hand" not in html  # 6A70 is in the loaded release: a search result
    assert 'data-icd-code="6A70"' in html and 'data-icd-system="ICD-11"' in html
    assert 'data-icd-title="Single episode depressive disorder"' in html
    html = c.get("/clinical/icd-search?q=6B20.Z").get_data(as_text=True)
    assert "Use ICD-11 code 6B20.Z (typed by hand)" in html and "not in the loaded ICD-11 release" in html
    assert 'data-icd-code="6B20.Z"' in html


def test_fragment_reads_the_picker_input_name(role_client):
    html = role_client("resident").get("/clinical/icd-search?icd_query=F20").get_data(as_text=True)
    assert 'data-icd-code="F20"' in html


def test_fragment_short_query_is_empty_and_no_match_says_so(role_client):
    c = role_client("faculty")
    assert c.get("/clinical/icd-search?q=d").get_data(as_text=True).strip() == ""
    assert c.get("/clinical/icd-search").get_data(as_text=True).strip() == ""
    html = c.get("/clinical/icd-search?q=qqzzxx").get_data(as_text=True)
    assert "No ICD-11 or ICD-10 code matches" in html and "<button" not in html


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
                                          "chapter": "V", "version": "2019"}
    body = client.get("/api/icd/search?q=6B20.Z", headers=h).get_json()
    assert body["data"]["typed"] == {"code": "6B20.Z", "system": "ICD-11", "title": None, "version": None,
                                     "in_release": False}
    assert client.get("/api/icd/search?q=d", headers=h).get_json()["data"]["results"] == []
    assert len(client.get("/api/icd/search?q=disorder&limit=5", headers=h).get_json()["data"]["results"]) == 5
    assert client.get("/api/icd/search?q=F20").status_code == 401
