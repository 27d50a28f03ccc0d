"""Patient statistics: /api/patients/stats, /api/patients/age-distribution and the
/patients/stats page; the SVG chart helper."""
from __future__ import annotations

import datetime as dt
import re
from itertools import count

import pytest

from emrs.charts import bar_chart, donut_or_bars, fmt_count, line_chart
from emrs.extensions import db
from emrs.intake.models import IntakeRecord
from emrs.patients import stats
from emrs.patients.models import Patient
from emrs.timeutil import today_ist

UTC = dt.timezone.utc
_seq = count(1)


def add_patient(sex="M", age=30, *, complex_=False, active=True, created_at=None, name=None) -> Patient:
    n = next(_seq)
    p = Patient(name=name or f"Stat Patient {n}", sex=sex, age=age, cr_no=f"CRSTAT{n:06d}", is_active=active)
    if created_at is not None:
        p.created_at = created_at
    db.session.add(p)
    db.session.flush()
    if complex_:
        db.session.add(IntakeRecord(patient_id=p.id, adl_no=f"ADL2026{n:08d}", file_created_date=dt.date(2026, 1, 5)))
        db.session.flush()
    return p


@pytest.fixture
def seeded(app):
    """5 active patients (3 M, 1 F, 1 Other; 2 complex) + archived ones that must not count."""
    with app.app_context():
        add_patient("M", 10, complex_=True)
        add_patient("M", 18)
        add_patient("M", 70)
        add_patient("F", 25, complex_=True)
        add_patient("Other", 40)
        add_patient("F", 30, active=False)
        add_patient("M", 50, active=False, complex_=True)
        db.session.commit()
    return {"total_patients": 5, "male_patients": 3, "female_patients": 1, "other_patients": 1,
            "patients_with_adl": 2, "complex_cases": 2, "simple_cases": 3}


def _distribution(**nonzero):
    groups = ["Under 18", "18-25", "26-35", "36-45", "46-55", "56-65", "65+"]
    return [{"age_group": g, "count": nonzero.get(g, 0)} for g in groups]


# ------------------------------------------------------------------ API

def test_api_stats_counts_active_patients_and_derives_complexity(client, bearer, users, seeded):
    resp = client.get("/api/patients/stats", headers=bearer(users["pwo"]))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True
    assert body["data"] == {"stats": seeded}


def test_complexity_comes_from_intake_records_not_the_stored_column(app, client, bearer, users):
    with app.app_context():
        p = add_patient("F", 33)
        p.case_complexity = "complex"     # stale stored value: no intake record exists
        p.has_adl_file = True
        db.session.commit()
    data = client.get("/api/patients/stats", headers=bearer(users["admin"])).get_json()["data"]["stats"]
    assert data["complex_cases"] == 0 and data["simple_cases"] == 1 and data["patients_with_adl"] == 0


def test_api_age_distribution_all_groups_in_order(client, bearer, users, seeded, app):
    with app.app_context():
        add_patient("F", None)            # age not recorded: in no group
        add_patient("M", 17)
        add_patient("M", 65)
        add_patient("M", 66)
        add_patient("F", 0)
        db.session.commit()
    resp = client.get("/api/patients/age-distribution", headers=bearer(users["faculty"]))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True
    assert body["data"]["distribution"] == _distribution(**{"Under 18": 3, "18-25": 2, "36-45": 1,
                                                             "56-65": 1, "65+": 2})


def test_api_empty_database_gives_zeros(client, bearer, users):
    data = client.get("/api/patients/stats", headers=bearer(users["resident"])).get_json()["data"]
    assert data["stats"] == {k: 0 for k in ("total_patients", "male_patients", "female_patients", "other_patients",
                                            "patients_with_adl", "complex_cases", "simple_cases")}
    dist = client.get("/api/patients/age-distribution", headers=bearer(users["resident"])).get_json()["data"]
    assert dist["distribution"] == _distribution()


@pytest.mark.parametrize("role", ["admin", "faculty", "resident", "pwo"])
def test_every_role_may_read_the_api(client, bearer, users, role):
    for path in ("/api/patients/stats", "/api/patients/age-distribution"):
        assert client.get(path, headers=bearer(users[role])).status_code == 200, (role, path)


def test_anonymous_api_is_refused(client):
    for path in ("/api/patients/stats", "/api/patients/age-distribution"):
        resp = client.get(path)
        assert resp.status_code == 401, path
        assert resp.get_json()["success"] is False


def test_static_paths_are_not_taken_for_a_patient_id(app):
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/api/patients/stats")[0] == "api.patients_stats"
    assert adapter.match("/api/patients/age-distribution")[0] == "api.patients_age_distribution"


# ------------------------------------------------------------------ per-day counts

def test_registrations_per_day_uses_ist_days(app):
    end = dt.date(2026, 1, 12)
    with app.app_context():
        add_patient(created_at=dt.datetime(2026, 1, 10, 18, 29, tzinfo=UTC))   # 10 Jan 23:59 IST
        add_patient(created_at=dt.datetime(2026, 1, 10, 18, 31, tzinfo=UTC))   # 11 Jan 00:01 IST
        add_patient(created_at=dt.datetime(2026, 1, 10, 19, 0, tzinfo=UTC))    # 11 Jan 00:30 IST
        add_patient(created_at=dt.datetime(2026, 1, 12, 18, 29, tzinfo=UTC))   # 12 Jan 23:59 IST
        add_patient(created_at=dt.datetime(2026, 1, 12, 18, 30, tzinfo=UTC))   # 13 Jan: after the window
        add_patient(created_at=dt.datetime(2025, 12, 13, 18, 29, tzinfo=UTC))  # 13 Dec IST: before it
        add_patient(created_at=dt.datetime(2025, 12, 13, 18, 30, tzinfo=UTC))  # 14 Dec IST: first day
        add_patient(created_at=dt.datetime(2026, 1, 11, 6, 0, tzinfo=UTC), active=False)  # archived
        db.session.commit()
        rows = stats.registrations_per_day(30, end=end)
    assert len(rows) == 30
    assert rows[0] == (dt.date(2025, 12, 14), 1)
    assert rows[-1] == (dt.date(2026, 1, 12), 1)
    by_day = dict(rows)
    assert by_day[dt.date(2026, 1, 10)] == 1
    assert by_day[dt.date(2026, 1, 11)] == 2
    assert sum(by_day.values()) == 5
    assert [d for d, _ in rows] == [dt.date(2025, 12, 14) + dt.timedelta(days=i) for i in range(30)]


def test_registrations_per_day_is_one_query(app):
    from sqlalchemy import event
    with app.app_context():
        add_patient()
        statements = []
        conn = db.session.connection()
        listener = lambda *a: statements.append(a[2])  # noqa: E731
        event.listen(conn, "before_cursor_execute", listener)
        try:
            stats.registrations_per_day(30)
            stats.age_bands()
        finally:
            event.remove(conn, "before_cursor_execute", listener)
    assert len(statements) == 2
    assert all("GROUP BY" in s.upper() for s in statements)


# ------------------------------------------------------------------ page

def _figure(html, name):
    m = re.search(rf'data-figure="{name}">([^<]+)<', html)
    return m and m.group(1)


def test_page_shows_figures_charts_and_tables(app, role_client, seeded):
    now = dt.datetime.now(UTC)
    with app.app_context():
        add_patient("F", 45, created_at=now - dt.timedelta(days=2), name="Recent <b>Kaur</b>")
        db.session.commit()
    resp = role_client("pwo").get("/patients/stats")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert _figure(html, "total_patients") == "6"
    assert _figure(html, "complex_cases") == "2"
    assert _figure(html, "simple_cases") == "4"
    assert _figure(html, "last_30_days") == "6"   # the seeded ones were created just now
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 4
    assert "<title" in html and "<desc" in html
    assert ' style="' not in html              # the CSP forbids inline styles
    # Each chart's numbers also as a table.
    sex = re.search(r'data-table="sex">(.*?)</table>', html, re.S).group(1)
    assert re.search(r"Male</th><td class=\"num\">3<", sex)
    assert re.search(r"Female</th><td class=\"num\">2<", sex)
    assert re.search(r"Other</th><td class=\"num\">1<", sex)
    age = re.search(r'data-table="age">(.*?)</table>', html, re.S).group(1)
    assert [g for g in re.findall(r'<th scope="row">([^<]+)</th>', age)] == \
        ["Under 18", "18-25", "26-35", "36-45", "46-55", "56-65", "65+", "Total"]
    assert re.search(r"36-45</th><td class=\"num\">2<", age)
    cx = re.search(r'data-table="complexity">(.*?)</table>', html, re.S).group(1)
    assert re.search(r"Simple</th><td class=\"num\">4<", cx) and re.search(r"Complex</th><td class=\"num\">2<", cx)
    per_day = re.search(r'data-table="per-day">(.*?)</table>', html, re.S).group(1)
    assert per_day.count("<tr><th scope=\"row\">") == 31   # 30 days + total
    today = today_ist().strftime("%a %d %b %Y")
    assert re.search(rf"{today}</th><td class=\"num\">5<", per_day)


@pytest.mark.parametrize("role", ["admin", "faculty", "resident", "pwo"])
def test_every_role_may_open_the_page(role_client, role):
    resp = role_client(role).get("/patients/stats")
    assert resp.status_code == 200
    assert "Patient statistics" in resp.get_data(as_text=True)


def test_anonymous_page_redirects_to_login(client):
    resp = client.get("/patients/stats")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


# ------------------------------------------------------------------ chart helper

def test_bar_chart_is_accessible_escaped_and_style_free():
    svg = str(bar_chart([("<script>", 3), ("B & C", 0)], title='Cases "now"', x_label="Patients",
                        y_label="Group", chart_id="c1"))
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Cases &#34;now&#34;</title>' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "B &amp; C" in svg
    assert "style=" not in svg
    assert 'viewBox="0 0 ' in svg and 'width="100%"' in svg
    assert ">Patients</text>" in svg and ">Group</text>" in svg      # axis labels
    assert re.search(r'class="chart-value">3</text>', svg)          # value labels


def test_vertical_bars_and_line_have_value_ticks_and_thinned_labels():
    series = [(f"{d:02d} Jan", d % 4) for d in range(1, 31)]
    svg = str(bar_chart(series, title="Per day", horizontal=False, label_every=5))
    assert svg.count('class="chart-bar"') == 30
    # Every 5th day is named, counted back from the latest, which is always named.
    assert all(f">{d:02d} Jan</text>" in svg for d in (30, 25, 20, 15, 10, 5))
    assert ">01 Jan</text>" not in svg and ">29 Jan</text>" not in svg
    line = str(line_chart(series[:7], title="Trend", y_label="Patients"))
    assert "<polyline" in line and line.count('class="chart-dot"') == 7 and "style=" not in line


def test_donut_for_few_parts_bars_for_many_or_none():
    donut = str(donut_or_bars([("Simple", 3), ("Complex", 1)], title="Cases"))
    assert "chart-donut" in donut and "75%" in donut and "25%" in donut and "style=" not in donut
    many = str(donut_or_bars([(str(i), i) for i in range(6)], title="Many"))
    assert "chart-bar" in many and "chart-donut" not in many
    empty = str(donut_or_bars([("Simple", 0), ("Complex", 0)], title="Nothing yet"))
    assert "chart-bar" in empty


def test_fmt_count_uses_indian_grouping():
    assert [fmt_count(n) for n in (0, 999, 1000, 100000, 1234567)] == ["0", "999", "1,000", "1,00,000", "12,34,567"]
