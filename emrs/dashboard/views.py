"""The home page: today's figures, the role's dashboard (cards that link to the lists they
count, and charts), and the registrations calendar (/calendar)."""
from __future__ import annotations

import datetime as dt

from flask import render_template, request, url_for

from .. import charts
from ..auth.guard import principal
from ..auth.navigation import allowed
from ..errors import DomainError
from . import bp, service


def _links(cards: list[dict]) -> list[dict]:
    """Each card with the address of its list, when this user may open that list."""
    out = []
    for c in cards:
        url = url_for(c["endpoint"], **c["args"]) if c["endpoint"] and allowed(c["endpoint"]) else None
        out.append({**c, "url": url})
    return out


@bp.get("/")
def index():
    user = principal()
    message = None
    try:
        filters = service.parse_filters(request.args)
    except DomainError as exc:
        filters, message = {}, "; ".join(e["msg"] for e in exc.errors or []) or exc.message
    data = service.overview(user, filters)
    ch = data["charts"]
    chart = {
        "gender": charts.donut_or_bars([(d["label"], d["count"]) for d in ch["gender_distribution"]],
                                       title="Patients by gender", chart_id="dash-gender"),
        "age": charts.bar_chart([(d["label"], d["count"]) for d in ch["age_group_distribution"]],
                                title="Patients by age group", horizontal=True, chart_id="dash-age",
                                y_label="Age (years)", x_label="Patients"),
        "state": charts.bar_chart([(d["label"], d["count"]) for d in ch["state_distribution"]],
                                  title="Patients by state", horizontal=True, chart_id="dash-state",
                                  x_label="Patients"),
    }
    return render_template("dashboard/index.html", figures=service.figures(user), user=user, data=data,
                           cards=_links(data["card_list"]), chart=chart, fmt=charts.fmt_count, message=message,
                           args=request.args)


@bp.get("/calendar", endpoint="calendar")
def calendar_page():
    message = None
    try:
        month = service.parse_month(request.args.get("month"))
        day = service.parse_day(request.args.get("date"))
    except DomainError as exc:
        month, day = service.parse_month(None), None
        message = "; ".join(e["msg"] for e in exc.errors or []) or exc.message
    per_day = service.registrations_by_date(month)
    prev_month = (month - dt.timedelta(days=1)).replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    return render_template("dashboard/calendar.html", month=month, weeks=service.calendar_weeks(month, per_day),
                           total=sum(d["count"] for d in per_day), day=day,
                           by_room=service.registrations_by_room(day) if day else None,
                           prev_month=prev_month.strftime("%Y-%m"), next_month=next_month.strftime("%Y-%m"),
                           message=message, fmt=charts.fmt_count)


@bp.get("/rating-scales/patients", endpoint="rating_patients")
def rating_patients():
    """The patients behind a rating-scale card of the dashboard (same filters)."""
    figure = request.args.get("figure") or ""
    filters = service.parse_filters(request.args)
    rows = service.rating_patients(principal(), figure, filters)
    label, note = service.RATING_FIGURES[figure]
    return render_template("dashboard/rating_patients.html", rows=rows, label=label, note=note, figure=figure,
                           filters=filters)
