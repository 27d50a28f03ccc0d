"""The admin's audit pages: filters (patient by id or CR no., user, action, record kind,
IST date range), paging, one patient's and one user's trail, the links to them, and the
streamed CSV export with formula escaping. Everyone but the Admin gets 403."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.patients.models import Patient

UTC = dt.timezone.utc


@pytest.fixture
def trail(app, users, make_user):
    """Two patients and a handful of audit rows at known times (UTC)."""
    p1 = Patient(name="Gurmeet Kaur", name_key="gurmeet kaur", sex="F", age=38, cr_no="CR2026770001")
    p2 = Patient(name="+SUM(1,2)", name_key="sum", sex="M", age=50, cr_no="CR2026770002")
    db.session.add_all([p1, p2])
    db.session.flush()
    odd = make_user(name="=HYPERLINK(\"http://x\")", email="odd@test.emrs.local")
    resident, pwo = users["resident"], users["pwo"]
    rows = [  # (user, action, entity, patient, created_at UTC, details)
        (pwo, "patient_create", "registered_patient", p1, dt.datetime(2026, 3, 9, 5, 0, tzinfo=UTC), {"fields": ["name"]}),
        (resident, "patient_view", "registered_patient", p1, dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC), None),
        # 19:00 UTC on 10 March is 00:30 IST on 11 March
        (resident, "proforma_update", "clinical_proforma", p1, dt.datetime(2026, 3, 10, 19, 0, tzinfo=UTC),
         {"fields": ["diagnosis"], "decision": "simple_case"}),
        (odd, "patient_view", "registered_patient", p2, dt.datetime(2026, 3, 11, 6, 0, tzinfo=UTC), {"note": "-2+3"}),
        (pwo, "login", "users", None, dt.datetime(2026, 3, 12, 4, 0, tzinfo=UTC), None),
    ]
    ids = []
    for user, action, entity, patient, when, details in rows:
        row = AuditLog(user_id=user.id, action=action, entity=entity, entity_id=str(patient.id if patient else user.id),
                       patient_id=patient.id if patient else None, created_at=when, details=details,
                       ip_address="10.0.0.7")
        db.session.add(row)
        db.session.flush()
        ids.append(row.id)
    db.session.commit()
    return {"p1": p1, "p2": p2, "odd": odd, "ids": ids}


def actions_on(html: str) -> list[str]:
    return re.findall(r"<code>([a-z_0-9]+)</code>", html)


def test_filters(role_client, trail, users):
    c = role_client("admin")
    p1 = trail["p1"]
    page = c.get("/audit/", query_string={"patient": p1.id}).get_data(as_text=True)
    assert actions_on(page) == ["proforma_update", "patient_view", "patient_create"]  # newest first
    by_cr = c.get("/audit/", query_string={"patient": "cr2026770001"}).get_data(as_text=True)
    assert actions_on(by_cr) == actions_on(page)
    assert 'value="cr2026770001"' in by_cr  # what was typed stays in the box
    both = c.get("/audit/", query_string={"patient": p1.id, "user_id": users["resident"].id}).get_data(as_text=True)
    assert actions_on(both) == ["proforma_update", "patient_view"]
    only = c.get("/audit/", query_string={"patient": p1.id, "action": "patient_view"}).get_data(as_text=True)
    assert actions_on(only) == ["patient_view"]
    kind = c.get("/audit/", query_string={"entity": "clinical_proforma"}).get_data(as_text=True)
    assert actions_on(kind) == ["proforma_update"]
    # IST days: 19:00 UTC on 10 March belongs to 11 March in Kolkata.
    day = c.get("/audit/", query_string={"patient": p1.id, "date_from": "2026-03-11", "date_to": "2026-03-11"})
    assert actions_on(day.get_data(as_text=True)) == ["proforma_update"]
    upto = c.get("/audit/", query_string={"patient": p1.id, "date_to": "2026-03-10"}).get_data(as_text=True)
    assert actions_on(upto) == ["patient_view", "patient_create"]
    assert "11 Mar 2026, 00:30:00" in day.get_data(as_text=True)  # shown in IST


@pytest.mark.parametrize("args, message", [
    ({"patient": "CR-NOPE"}, "No patient with id or CR no. “CR-NOPE”."),
    ({"user_id": "abc"}, "User must be chosen from the list."),
    ({"date_from": "2026-13-40"}, "From must be a date (YYYY-MM-DD)."),
    ({"date_to": "9999-12-31"}, "To must be a date (YYYY-MM-DD)."),
    ({"date_from": "0001-01-01"}, "From must be a date (YYYY-MM-DD)."),
    ({"patient": "²"}, "No patient with id or CR no. “²”."),
    ({"user_id": "²"}, "User must be chosen from the list."),
    ({"date_from": "2026-03-12", "date_to": "2026-03-01"}, "The From date is after the To date."),
])
def test_bad_filters_say_why_and_show_nothing(role_client, trail, args, message):
    resp = role_client("admin").get("/audit/", query_string=args)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and message in html
    assert actions_on(html) == [] and "No entries match." in html


def test_paging_keeps_the_filters(role_client, trail, users):
    for i in range(55):
        db.session.add(AuditLog(user_id=users["faculty"].id, action="bulk_view", entity="registered_patient",
                                patient_id=trail["p2"].id, created_at=dt.datetime(2026, 3, 13, 0, i, tzinfo=UTC)))
    db.session.commit()
    c = role_client("admin")
    first = c.get("/audit/", query_string={"action": "bulk_view"}).get_data(as_text=True)
    assert len(actions_on(first)) == 50 and "Page 1 of 2" in first
    older = re.search(r'href="([^"]+)">Older', first).group(1).replace("&amp;", "&")
    assert "action=bulk_view" in older and "page=2" in older
    second = c.get(older).get_data(as_text=True)
    assert actions_on(second) == ["bulk_view"] * 5
    odd = c.get("/audit/", query_string={"action": "bulk_view", "page": "²"}).get_data(as_text=True)
    assert "Page 1 of 2" in odd  # a page number that is not one: the first page


def test_one_patients_trail(role_client, trail):
    c = role_client("admin")
    p1, p2 = trail["p1"], trail["p2"]
    html = c.get(f"/audit/patient/{p1.id}").get_data(as_text=True)
    assert "Gurmeet Kaur: who saw or changed the record" in html and "CR no. CR2026770001" in html
    assert actions_on(html) == ["proforma_update", "patient_view", "patient_create"]
    assert f'href="/patients/{p1.id}"' in html
    assert "<th>Patient</th>" not in html  # the page is about one patient
    narrowed = c.get(f"/audit/patient/{p1.id}", query_string={"action": "patient_create"}).get_data(as_text=True)
    assert actions_on(narrowed) == ["patient_create"]
    assert f'action="/audit/patient/{p1.id}"' in narrowed  # the filter form stays on this patient
    # An id with no patient row any more still shows its trail.
    db.session.add(AuditLog(user_id=None, action="patient_view", entity="registered_patient", patient_id=987654))
    db.session.commit()
    gone = c.get("/audit/patient/987654").get_data(as_text=True)
    assert "No longer registered" in gone and actions_on(gone) == ["patient_view"]
    assert actions_on(c.get(f"/audit/patient/{p2.id}").get_data(as_text=True)) == ["patient_view"]


def test_one_users_trail(role_client, trail, users):
    c = role_client("admin")
    resident = users["resident"]
    html = c.get(f"/audit/user/{resident.id}").get_data(as_text=True)
    assert f"{resident.name}: what they saw or changed" in html and resident.email in html
    assert [a for a in actions_on(html) if a in ("proforma_update", "patient_view")] == ["proforma_update",
                                                                                         "patient_view"]
    assert "<th>User</th>" not in html
    assert f'href="/audit/patient/{trail["p1"].id}"' in html  # each row links to the patient's trail
    assert c.get("/audit/user/2147483000").status_code == 404


def test_links_from_the_patient_page_and_the_users_list(role_client, trail, users):
    admin = role_client("admin")
    p1 = trail["p1"]
    page = admin.get(f"/patients/{p1.id}").get_data(as_text=True)
    assert "Recent access" in page and f'href="/audit/patient/{p1.id}"' in page
    assert f'href="/audit/user/{users["resident"].id}"' in page  # who, by name, with a link
    users_list = admin.get("/admin/users").get_data(as_text=True)
    assert f'href="/audit/user/{users["resident"].id}"' in users_list
    doctor = role_client("resident").get(f"/patients/{p1.id}").get_data(as_text=True)
    assert "Recent access" not in doctor and "/audit/" not in doctor


def _csv(resp) -> list[list[str]]:
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_of_the_filtered_view(role_client, trail, users):
    c = role_client("admin")
    p1 = trail["p1"]
    resp = c.get("/audit/export.csv", query_string={"patient": "CR2026770001", "user_id": users["resident"].id})
    assert resp.status_code == 200 and resp.is_streamed and resp.mimetype == "text/csv"
    name = rf'audit-patient-{p1.id}-user-{users["resident"].id}-\d{{4}}-\d\d-\d\d\.csv'
    assert re.fullmatch(rf'attachment; filename="{name}"; filename\*=UTF-8\'\'{name}', resp.headers["Content-Disposition"])
    rows = _csv(resp)
    assert rows[0] == ["When (IST)", "User id", "User", "Action", "Record", "Record id", "Patient id",
                       "Patient CR no.", "Patient", "IP address", "Request id", "Details"]
    assert [r[3] for r in rows[1:]] == ["proforma_update", "patient_view"]
    newest = rows[1]
    assert newest[0] == "2026-03-11T00:30:00+05:30"
    assert newest[1:3] == [str(users["resident"].id), users["resident"].name]
    assert newest[6:10] == [str(p1.id), "CR2026770001", "Gurmeet Kaur", "10.0.0.7"]
    assert newest[11] == '{"decision": "simple_case", "fields": ["diagnosis"]}'
    # The export itself is in the trail, naming the patient and the filters used.
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "audit_export")).scalar_one()
    assert row.patient_id == p1.id and row.user_id == users["admin"].id
    assert row.details == {"filters": ["patient_id", "user_id"]}


def test_csv_cells_cannot_become_formulas(role_client, trail):
    rows = _csv(role_client("admin").get("/audit/export.csv", query_string={"patient": trail["p2"].id}))
    assert [r[3] for r in rows[1:]] == ["audit_export", "patient_view"]  # this export is in the trail already
    row = rows[2]
    assert row[2] == "'=HYPERLINK(\"http://x\")"    # the user's name
    assert row[8] == "'+SUM(1,2)"                   # the patient's name
    assert row[11] == '{"note": "-2+3"}'            # JSON starts with {: left alone
    from emrs.spreadsheet import safe_cell
    assert [safe_cell(v) for v in ("-1", "@x", "\tx", "\rx", "plain", 5, None)] == \
        ["'-1", "'@x", "'\tx", "'\rx", "plain", 5, None]


def test_export_with_a_bad_filter_goes_back_with_the_reason(role_client, trail):
    resp = role_client("admin").get("/audit/export.csv", query_string={"patient": "NOPE"}, follow_redirects=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "No patient with id or CR no. “NOPE”." in resp.get_data(as_text=True)


@pytest.mark.parametrize("key", ["faculty", "resident", "pwo"])
def test_only_the_admin(role_client, trail, users, key):
    c = role_client(key)
    for path in ("/audit/", f"/audit/patient/{trail['p1'].id}", f"/audit/user/{users['pwo'].id}",
                 "/audit/export.csv"):
        resp = c.get(path)
        assert resp.status_code == 403 and "Not permitted" in resp.get_data(as_text=True), path
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "audit_export")).first() is None


def test_superscript_or_huge_page_numbers_fall_back_to_page_one(role_client):
    for page in ("%C2%B2", "9" * 5000):
        resp = role_client("admin").get(f"/audit/?page={page}")
        assert resp.status_code == 200
