"""GET /patients/stats — the patient statistics page (charts + the same numbers as tables)."""
from __future__ import annotations

from flask import render_template

from .. import charts
from ..timeutil import today_ist
from . import bp, stats


@bp.get("/stats", endpoint="stats")
def stats_page():
    figures = stats.patient_stats()
    per_day = stats.registrations_per_day(30)
    sexes = stats.sex_counts(figures)
    ages = stats.age_bands()
    complexity = stats.complexity_counts(figures)
    day_series = [(d.strftime("%d %b"), n) for d, n in per_day]
    last_30 = sum(n for _, n in per_day)
    chart = {
        "per_day": charts.bar_chart(
            day_series, title="Registrations per day, last 30 days (IST)", horizontal=False,
            x_label="Day of registration (IST)", y_label="Patients", chart_id="chart-per-day", label_every=5,
            desc=(f"Bar chart of new registrations per day from {per_day[0][0]:%d %B %Y} to "
                  f"{per_day[-1][0]:%d %B %Y}: {charts.fmt_count(last_30)} in all, most on one day "
                  f"{charts.fmt_count(max(n for _, n in per_day))}. The table below lists every day.")),
        "sex": charts.donut_or_bars(sexes, title="Patients by sex", chart_id="chart-sex"),
        "age": charts.bar_chart(ages, title="Patients by age group", horizontal=True, chart_id="chart-age",
                                y_label="Age (years)", x_label="Patients"),
        "complexity": charts.donut_or_bars(complexity, title="Simple and complex cases",
                                           chart_id="chart-complexity"),
    }
    return render_template("patients/stats.html", figures=figures, per_day=per_day, last_30=last_30,
                           sexes=sexes, ages=ages, complexity=complexity, chart=chart,
                           fmt=charts.fmt_count, today=today_ist())
