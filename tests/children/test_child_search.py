"""A child is found by its CGC number (and its digits) wherever patients are searched: the
patients page, the quick search and GET /api/patients?search=. On PostgreSQL each way of
matching the number is served by an index of migration 0028 (the register may hold 1M rows)."""
from __future__ import annotations

from sqlalchemy import event

from emrs.extensions import db
from emrs.patients import search

from .test_child_api import register_child

CGC = "CGC2019007345"  # typed by the PWO: its digits are nobody's CR number in these tests


def _api_ids(client, headers, term):
    resp = client.get("/api/patients", query_string={"search": term}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return [p["id"] for p in resp.get_json()["data"]["patients"]]


def test_api_search_finds_a_child_by_its_cgc_number_and_its_digits(client, h):
    child = register_child(client, h["pwo"], cgc_number=CGC)
    other = register_child(client, h["pwo"], child_name="Aman Preet", mobile_no="9876501299")
    assert child["cgc_number"] == CGC and other["cgc_number"] != CGC
    assert _api_ids(client, h["faculty"], CGC)[0] == child["id"]          # exact, ranked first
    assert _api_ids(client, h["faculty"], "cgc 2019-007345") == [child["id"]]  # any case, separators
    assert child["id"] in _api_ids(client, h["faculty"], "cgc201900")     # prefix while typing
    assert _api_ids(client, h["faculty"], "2019007345") == [child["id"]]  # the digits (the body)
    assert _api_ids(client, h["faculty"], "7345") == [child["id"]]        # its last digits
    assert other["id"] not in _api_ids(client, h["faculty"], CGC)
    found = client.get("/api/patients", query_string={"search": CGC}, headers=h["pwo"]).get_json()
    assert found["data"]["patients"][0]["cgc_number"] == CGC


def test_patients_page_and_quick_search_find_a_child_by_its_cgc_number(client, h, role_client):
    child = register_child(client, h["pwo"], cgc_number=CGC)
    c = role_client("faculty")
    results = c.get(f"/patients/?q={CGC.lower()}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Simran Kaur" in results and child["cr_number"] in results and "badge-child" in results
    quick = c.get("/patients/quick-search?q=2019007345").get_data(as_text=True)
    assert "Simran Kaur" in quick and f"/patients/{child['id']}" in quick
    assert "Simran Kaur" not in c.get("/patients/quick-search?q=CGC2019007399").get_data(as_text=True)


def test_each_cgc_match_is_an_index_look_up_on_postgresql(app, client, h):
    """The statement search() sends, planned without sequential scans: the prefix and the
    reversed-body indexes of migration 0028 must be usable (their partial predicate implied)."""
    register_child(client, h["pwo"], cgc_number=CGC)
    if db.engine.dialect.name != "postgresql":
        assert search.search("7345")[1] == 1
        return
    for term, index in (("CGC201900", "ix_patient_cgc_number_prefix"),
                        ("7345", "ix_patient_cgc_number_body_rev"),
                        ("2019007345", "ix_patient_cgc_number_body_rev")):
        seen = []

        def keep(conn, cursor, statement, parameters, context, executemany):
            if "cgc_number" in statement and "ORDER BY" in statement:
                seen.append((statement, parameters))

        conn = db.session.connection()
        event.listen(conn, "before_cursor_execute", keep)
        try:
            assert search.search(term)[1] == 1
        finally:
            event.remove(conn, "before_cursor_execute", keep)
        statement, parameters = seen[-1]
        cursor = conn.connection.cursor()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(r[0] for r in cursor.fetchall())
        assert index in plan, plan
