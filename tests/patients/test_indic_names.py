"""Names in Devanagari and Gurmukhi: found by the exact name, by their own words, across
scripts and by Latin spelling variants, on every door (API search and list, pages, quick
search, FHIR, the duplicate warning); CR/PSY/ADL numbers by their body and trailing digits."""
from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text

from emrs.extensions import db
from emrs.patients import names as N
from emrs.patients.models import Patient

from ..factories import register_patient

GURMUKHI = "ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ"
DEVANAGARI = "राजेश कुमार शर्मा"
CARD = {"age": 46, "sex": "M", "category": "GEN", "father_name": "Gurdev Singh", "city": "Patiala"}


def register(client, headers, name, **over):
    return register_patient(client, headers, **{**CARD, "name": name, **over})["id"]


@pytest.fixture
def people(client, h):
    """The two native registrations among Latin names that share words with them."""
    return {
        "harjeet": register(client, h["pwo"], GURMUKHI, contact_number="9811100001"),
        "rajesh": register(client, h["pwo"], DEVANAGARI, age=38, contact_number="9811100002"),
        "latin_harjit": register(client, h["pwo"], "Harjit Kaur Gill", sex="F", age=30, contact_number="9811100003"),
        "latin_rakesh": register(client, h["pwo"], "Rakesh Kumar Verma", age=52, contact_number="9811100004"),
        "other": register(client, h["pwo"], "Sukhwinder Singh Sandhu", age=60, contact_number="9811100005"),
    }


def api_ids(client, headers, q, door="search"):
    if door == "search":
        resp = client.get("/api/patients/search", query_string={"q": q}, headers=headers)
    else:
        resp = client.get("/api/patients", query_string={"search": q, "limit": 50}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return [p["id"] for p in resp.get_json()["data"]["patients"]]


# ----------------------------------------------------------------------------- keys

@pytest.mark.parametrize("spellings", [
    ("Harjeet", "Harjit", "ਹਰਜੀਤ", "हरजीत"),
    ("Dhillon", "Dhilon", "ਢਿੱਲੋਂ", "ढिल्लों"),
    ("Singh", "ਸਿੰਘ", "सिंह"),
    ("Rajesh", "राजेश", "ਰਾਜੇਸ਼"),
    ("Sharma", "Sarma", "Shrma", "शर्मा", "ਸ਼ਰਮਾ"),
    ("Kumar", "कुमार", "ਕੁਮਾਰ"),
    ("Gurpreet", "Gurprit", "ਗੁਰਪ੍ਰੀਤ", "गुरप्रीत"),
    ("Kaur", "Kour", "ਕੌਰ", "कौर"),
    ("Sandhu", "Sandhoo", "ਸੰਧੂ", "संधू"),
    ("Mohinder", "Mahinder", "ਮੋਹਿੰਦਰ", "मोहिंदर"),
    ("Amandeep", "ਅਮਨਦੀਪ", "अमनदीप"),
    ("Brar", "ਬਰਾੜ"),
    ("Chhabra", "छाबड़ा"),
])
def test_spellings_in_any_script_share_one_key(spellings):
    keys = {N.word_key(N.words(s)[0]) for s in spellings}
    assert len(keys) == 1 and "" not in keys, {s: N.word_key(N.words(s)[0]) for s in spellings}


def test_native_names_are_spelt_in_latin_and_indexed_in_both_scripts():
    assert [N.latin(w) for w in N.words(GURMUKHI)] == ["harjit", "singh", "dhillon"]
    assert [N.latin(w) for w in N.words(DEVANAGARI)] == ["rajesh", "kumar", "sharma"]
    assert N.name_key(GURMUKHI) == N.name_key("Harjeet Singh Dhillon") == "hrjt sng dln"
    tokens = N.name_tokens(GURMUKHI)
    assert {"ਹਰਜੀਤ", "ਹਰ", "ਢਿੱਲੋਂ", "harjit", "har", "dhillon", "~hrjt", "~dln"} <= set(tokens)
    # Latin names are indexed exactly as before.
    assert N.name_tokens("Ram Singh") == ["ra", "ram", "si", "sin", "sing", "singh", "~rm", "~sng"]
    assert N.name_key("José O'Brien") == "js o brn"


def test_registration_writes_the_keys(client, h, people):
    p = db.session.get(Patient, people["harjeet"])
    assert p.name == GURMUKHI and p.name_key == "hrjt sng dln"
    assert "ਹਰਜੀਤ" in p.name_words and "harjit" in p.name_words


# ----------------------------------------------------------------------------- search, every door

@pytest.mark.parametrize("q,who", [
    (GURMUKHI, "harjeet"),                 # the exact name
    ("ਹਰਜੀਤ ਢਿੱਲੋਂ", "harjeet"),            # its own words
    ("ਢਿੱਲੋਂ", "harjeet"),
    ("ਹਰਜੀ", "harjeet"),                    # as it is being typed
    ("Harjeet Dhillon", "harjeet"),        # Latin spelling variants
    ("Harjit Dhilon", "harjeet"),
    ("harjeet singh dhillon", "harjeet"),
    ("हरजीत ढिल्लों", "harjeet"),           # the other script
    (DEVANAGARI, "rajesh"),
    ("राजेश शर्मा", "rajesh"),
    ("शर्मा", "rajesh"),
    ("Rajesh Sharma", "rajesh"),
    ("Rajesh Sarma", "rajesh"),
    ("Rajesh Shrma", "rajesh"),
    ("ਰਾਜੇਸ਼ ਸ਼ਰਮਾ", "rajesh"),
])
@pytest.mark.parametrize("door", ["search", "list"])
def test_api_finds_native_names(client, h, people, q, who, door):
    found = api_ids(client, h["resident"], q, door)
    assert found and found[0] == people[who], (q, found)
    assert people["other"] not in found


def test_a_native_term_finds_latin_registrations_too(client, h, people):
    found = api_ids(client, h["pwo"], "ਹਰਜੀਤ")
    assert set(found) == {people["harjeet"], people["latin_harjit"]}


def test_pages_quick_search_and_fhir_find_native_names(role_client, client, h, people):
    c = role_client("resident")
    page = c.get("/patients/", query_string={"q": "Harjeet Dhillon"}).get_data(as_text=True)
    assert GURMUKHI in page and f"/patients/{people['harjeet']}" in page
    frag = c.get("/patients/", query_string={"q": "राजेश"}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert DEVANAGARI in frag
    quick = c.get("/patients/quick-search", query_string={"q": "Rajesh Sarma"}).get_data(as_text=True)
    assert DEVANAGARI in quick and f"/patients/{people['rajesh']}" in quick
    quick = c.get("/patients/quick-search", query_string={"q": GURMUKHI}).get_data(as_text=True)
    assert f"/patients/{people['harjeet']}" in quick
    resp = client.get("/fhir/Patient", query_string={"name": "Harjit Dhilon"}, headers=h["faculty"])
    assert resp.status_code == 200
    ids = [e["resource"]["id"] for e in resp.get_json().get("entry", [])]
    assert ids and ids[0] == str(people["harjeet"])


# ----------------------------------------------------------------------------- duplicate warning

def _duplicates(c, **q):
    return c.get("/patients/check-duplicates", query_string=q, headers={"HX-Request": "true"}).get_data(as_text=True)


def test_registration_page_warns_of_native_duplicates(role_client):
    c = role_client("pwo")
    for name, age, mobile in ((GURMUKHI, "46", "9822200001"), (DEVANAGARI, "38", "9822200002")):
        resp = c.post("/patients/new", data={"name": name, "age": age, "sex": "M", "contact_number": mobile})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    harjeet = db.session.query(Patient).filter_by(contact_number="9822200001").one().id
    rajesh = db.session.query(Patient).filter_by(contact_number="9822200002").one().id
    for name, pid, age in ((GURMUKHI, harjeet, "46"), ("Harjeet Dhillon", harjeet, "45"),
                           ("Harjit Singh Dhilon", harjeet, "47"), ("हरजीत ढिल्लों", harjeet, "46"),
                           (DEVANAGARI, rajesh, "38"), ("Rajesh Sharma", rajesh, "40"),
                           ("Rajesh Sarma", rajesh, "37"), ("ਰਾਜੇਸ਼ ਕੁਮਾਰ ਸ਼ਰਮਾ", rajesh, "38")):
        html = _duplicates(c, name=name, sex="M", age=age)
        assert "Possibly already registered" in html and f"/patients/{pid}" in html, name
    # Sex and age still count, and one shared word is not a duplicate.
    assert "Possibly already registered" not in _duplicates(c, name="Harjeet Dhillon", sex="F", age="46")
    assert "Possibly already registered" not in _duplicates(c, name="Harjeet Dhillon", sex="M", age="70")
    assert "Possibly already registered" not in _duplicates(c, name="Rajesh Verma", sex="M", age="38")


# ----------------------------------------------------------------------------- numbers

def test_numbers_by_their_digits_and_trailing_digits(client, h):
    a = register(client, h["pwo"], "Amarjit Kaur", sex="F", cr_no="CR2025000123", psy_no="PSY2024004567",
                 contact_number="9833300001")
    b = register(client, h["pwo"], "Balwant Rai", cr_no="CR2025009876", contact_number="9833300002")
    p = db.session.get(Patient, b)
    p.adl_no = "ADL2025K7Q2M481"
    db.session.commit()
    assert api_ids(client, h["pwo"], "2025000123")[0] == a          # the CR's digits alone
    assert api_ids(client, h["pwo"], "0123") == [a]                  # trailing 4+ digits
    assert api_ids(client, h["pwo"], "000123") == [a]
    assert api_ids(client, h["pwo"], "2024004567") == [a]            # PSY
    assert api_ids(client, h["pwo"], "4567") == [a]
    assert api_ids(client, h["pwo"], "9876") == [b]                  # CR of the other
    assert api_ids(client, h["pwo"], "2025K7Q2M481") == [b]          # ADL without its letters
    assert api_ids(client, h["pwo"], "M481") == [b]                  # and its tail
    assert api_ids(client, h["pwo"], "4481") == []
    # Existing behaviour stays: full numbers, prefixes, mobiles.
    assert api_ids(client, h["pwo"], "CR2025000123") == [a]
    assert a in api_ids(client, h["pwo"], "cr202500")
    assert api_ids(client, h["pwo"], "9833300002") == [b]
    assert set(api_ids(client, h["pwo"], "98333")) == {a, b}
    page = client.get("/api/patients", query_string={"search": "0123"}, headers=h["pwo"]).get_json()
    assert [p["id"] for p in page["data"]["patients"]] == [a]


# ----------------------------------------------------------------------------- migration 0015

def test_migration_backfills_native_names_registered_before_it(app, ctx):
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    conn = db.session.connection()
    pg = conn.dialect.name == "postgresql"
    empty = "'{}'" if pg else "'[]'"
    for name, cr in ((GURMUKHI, "CRMIG0015001"), ("Rakesh Sharma", "CRMIG0015002")):
        conn.execute(text(f"INSERT INTO registered_patient (name, name_key, name_words, cr_no) "
                          f"VALUES (:n, '', {empty}, :cr)"), {"n": name, "cr": cr})
    latin_before = conn.execute(text("SELECT name_key FROM registered_patient WHERE cr_no='CRMIG0015002'")).scalar()
    migration = importlib.import_module("migrations.versions.0015_indic_names_number_bodies")
    with Operations.context(MigrationContext.configure(conn)):
        migration._backfill(pg)
    row = db.session.execute(text("SELECT id, name_key FROM registered_patient WHERE cr_no='CRMIG0015001'")).one()
    assert row.name_key == "hrjt sng dln"
    assert "~dln" in db.session.get(Patient, row.id).name_words
    # Latin names are not rewritten.
    assert conn.execute(text("SELECT name_key FROM registered_patient WHERE cr_no='CRMIG0015002'")).scalar() \
        == latin_before == ""
