"""Rating-scale totals over time: the trend chart, the medication changes on its time axis
and the change since the first score.

Pure functions: no database, no Flask app. The chart follows emrs/charts.py: ``<svg
role="img">`` with ``<title>`` and ``<desc>`` named by ``aria-labelledby``, every text
escaped, colours as presentation attributes or ``trend-*`` classes (never ``style=``),
``width="100%"`` with a view box sized to stay readable on a 390 px wide phone.

The x axis is time-proportional (visits are not evenly spaced); the y axis runs from the
instrument's lowest to its highest possible total. Severity bands are light horizontal
stripes (warmer with rising severity); medication changes are dashed vertical lines with a
numbered marker at the top, and the numbered list is drawn under the plot.
"""
from __future__ import annotations

import datetime as dt
import math
import textwrap
from dataclasses import dataclass
from typing import Iterable, Sequence

from markupsafe import Markup, escape

from ..charts import GRID, INK, MUTED, PALETTE, _attrs, _chart_id, _n, _svg, _tag


@dataclass(frozen=True)
class Point:
    on: dt.date
    total: int
    confirmed: bool = True        # an unconfirmed self-report: drawn as a hollow marker
    flagged: bool = False         # a risk item was positive: a red ring + in the desc
    label: str | None = None      # e.g. band label, used in the <title> tooltip of the marker


@dataclass(frozen=True)
class Band:
    min: int
    max: int
    label: str
    severity: int                 # 0 = none/minimal ... rising


@dataclass(frozen=True)
class MedChange:
    on: dt.date
    label: str                    # e.g. "Started sertraline 50 mg", "Stopped olanzapine"


# ------------------------------------------------------------------ geometry and style

WIDTH = 380
PLOT_HEIGHT = 170
LINE = PALETTE[0]                 # the scores: the palette's dark blue
FLAG = PALETTE[1]                 # a positive risk item: vermillion ring
MED = MUTED                       # medication change lines and their numbers
# Light band fills, severity 0 (cool, pale green) to 6 (warm, pale red).
BAND_FILLS = ("#e2f2ea", "#eef4da", "#fbf1c9", "#fde2c2", "#fbd3bd", "#f7c6c0", "#f0b8c2")
FONT = 12                         # ticks, dates, the medication list
CHAR_W = 7.0                      # width estimate of one character at FONT px (DejaVu/Noto Sans)
WRAP_CHAR_W = 6.4                 # average character width of running text at FONT px (for wrapping)
LABEL_GAP = 6                     # the least space between two date labels
WITHIN_DAYS = 30                  # medication changes this close outside the scores widen the axis
LONG_SPAN_DAYS = 548              # beyond ~18 months the dates are labelled by month ("Dec 26")
MED_LABEL_MAX = 80                # one date's medication changes are cut to about this many characters
LIST_LINE = 15                    # line height of the medication list


def date_label(d: dt.date, long_span: bool = False) -> str:
    """'5 Dec 26', or 'Dec 26' on a long time axis."""
    return d.strftime("%b %y") if long_span else f"{d.day} {d.strftime('%b %y')}"


def _long_date(d: dt.date) -> str:
    return f"{d.day} {d.strftime('%b %Y')}"


def label_width(text: str, font_size: float = FONT) -> float:
    """The estimated drawn width of ``text`` (used to keep labels apart)."""
    return len(text) * CHAR_W * font_size / FONT


# ------------------------------------------------------------------ change since the first score

def _pct_text(value: float) -> str:
    return f"{value * 100:g}"


def _half_up(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def change_summary(first: int, latest: int, *, higher_is_worse: bool = True,
                   response_reduction: float | None = 0.5, floor: int = 0) -> dict:
    """The change from the first to the latest total.

    ``change``: latest − first. ``percent``: that change in % of the first total, rounded to
    a whole number and signed like ``change`` (−57 for a 57 % reduction); None when the first
    total is 0. ``direction``: 'better', 'worse' or 'same' (a fall is better when
    ``higher_is_worse``). ``response``: whether the improvement reaches ``response_reduction``
    of the first total (0.5: the usual ≥ 50 % reduction); None when ``response_reduction`` is
    None or the first total is 0 (no relative change to judge). ``text``: one sentence, e.g.
    'Down 12 points (−57 %) since the first score: response (≥ 50 % reduction)'.
    ``floor``: the scale's lowest total (BPRS items score 1–7, so its total starts at 18): the
    percentage is taken of the first total above the floor, as the BPRS response literature
    does (Leucht et al. 2005; Obermeier et al. 2010)."""
    first, latest = int(first), int(latest)
    change = latest - first
    base = first - int(floor)
    percent = None if base <= 0 else _half_up(100 * change / base)
    if change == 0:
        direction = "same"
    else:
        direction = "better" if (change < 0) == bool(higher_is_worse) else "worse"
    response = None
    if response_reduction is not None and base > 0:
        improvement = -change if higher_is_worse else change
        response = improvement / base >= response_reduction - 1e-9
    if change == 0:
        text = "No change since the first score"
    else:
        points = "point" if abs(change) == 1 else "points"
        text = f"{'Down' if change < 0 else 'Up'} {abs(change)} {points}"
        if percent is not None:
            text += f" ({'−' if percent < 0 else '+'}{abs(percent)} %)"
        text += " since the first score"
    if response:
        kind = "reduction" if higher_is_worse else "improvement"
        text += f": response (≥ {_pct_text(response_reduction)} % {kind})"
    return {"change": change, "percent": percent, "direction": direction, "response": response,
            "text": text}


# ------------------------------------------------------------------ medication changes

def _key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


def _dose_key(dose: str) -> str:
    return "".join(str(dose or "").split()).casefold()


def _regimen(medicines: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """{normalised name: (name as written, dose text)}; one medicine listed twice keeps both
    doses ('0.5 mg + 1 mg')."""
    out: dict[str, tuple[str, str]] = {}
    for name, dose in medicines:
        name = " ".join(str(name or "").split())
        dose = " ".join(str(dose or "").split())
        if not name:
            continue
        key = _key(name)
        if key in out:
            shown, old = out[key]
            if dose and _dose_key(dose) not in {_dose_key(d) for d in old.split(" + ")}:
                dose = f"{old} + {dose}" if old else dose
            else:
                dose = old
            out[key] = (shown, dose)
        else:
            out[key] = (name, dose)
    return out


def _join_changes(changes: list[str]) -> str:
    """'; '-joined, cut to about MED_LABEL_MAX characters: '… +N more' names the rest."""
    text = "; ".join(changes)
    if len(text) <= MED_LABEL_MAX:
        return text
    kept: list[str] = []
    for i, change in enumerate(changes):
        rest = len(changes) - i - 1
        suffix = f" … +{rest} more" if rest else ""
        candidate = "; ".join([*kept, change])
        if len(candidate) + len(suffix) > MED_LABEL_MAX:
            break
        kept.append(change)
    rest = len(changes) - len(kept)
    if not kept:   # the first change alone is too long: cut it
        first = changes[0]
        rest -= 1
        tail = f" … +{rest} more" if rest else ""
        return first[:MED_LABEL_MAX - len(tail) - 1].rstrip() + "…" + tail
    return "; ".join(kept) + f" … +{rest} more"


def medication_changes(prescriptions: list[tuple[dt.date, list[tuple[str, str]]]]) -> list[MedChange]:
    """From a patient's prescriptions in date order — each (date, [(medicine name,
    strength/dose text), ...]) — the changes between consecutive prescriptions: 'Started X
    50 mg', 'Stopped Y', 'X 50 mg → 100 mg'. Names are compared case-insensitively and
    trimmed (doses ignoring case and spaces: '50mg' is '50 mg'). The first prescription's
    medicines are all 'Started'. Several changes on one date are joined with '; ' into one
    MedChange (about MED_LABEL_MAX characters at most, then '… +N more'). Same-day
    prescriptions are merged (union) before comparing; a date with no change gives nothing."""
    by_day: dict[dt.date, list[tuple[str, str]]] = {}
    for on, medicines in sorted(prescriptions, key=lambda p: p[0]):
        by_day.setdefault(on, []).extend(medicines or [])
    out: list[MedChange] = []
    before: dict[str, tuple[str, str]] = {}
    for on in sorted(by_day):
        now = _regimen(by_day[on])
        changes = []
        for key, (name, dose) in now.items():
            if key not in before:
                changes.append(f"Started {name} {dose}".rstrip())
            elif _dose_key(before[key][1]) != _dose_key(dose):
                changes.append(f"{name} {before[key][1] or '?'} → {dose or '?'}")
        for key, (name, _dose) in before.items():
            if key not in now:
                changes.append(f"Stopped {name}")
        if changes:
            changes = [c[:1].upper() + c[1:] for c in changes]
            out.append(MedChange(on, _join_changes(changes)))
        before = now
    return out


# ------------------------------------------------------------------ the chart

def _y_ticks(lo: int, hi: int) -> list[int]:
    """lo and hi, and the round steps between that are not too close to them."""
    span = hi - lo
    raw = span / 6
    step = 1
    for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        step = s
        if s >= raw:
            break
    ticks = [lo]
    t = math.ceil(lo / step) * step
    while t < hi:
        if t - lo >= step / 2 and hi - t >= step / 2:
            ticks.append(t)
        t += step
    ticks.append(hi)
    return ticks


def _band_fill(severity: int, top_severity: int) -> str:
    if top_severity >= len(BAND_FILLS):   # more levels than colours: spread them
        index = round(severity * (len(BAND_FILLS) - 1) / top_severity)
    else:
        index = severity
    return BAND_FILLS[max(0, min(len(BAND_FILLS) - 1, index))]


def _thin_labels(items: list[tuple[float, str]], lo_x: float, hi_x: float) -> list[tuple[float, str]]:
    """Date labels (x, text) that do not overlap: the first and the latest always (the latest
    wins when they collide), the others where they fit. Each label's centre is kept inside
    [lo_x, hi_x] so its text stays in the picture."""
    placed = []
    for x, text in items:
        half = label_width(text) / 2
        placed.append((min(max(x, lo_x + half), hi_x - half), text))
    if not placed:
        return []

    def apart(a, b):
        return abs(a[0] - b[0]) >= (label_width(a[1]) + label_width(b[1])) / 2 + LABEL_GAP

    last = placed[-1]
    kept = [placed[0]] if len(placed) > 1 and apart(placed[0], last) else []
    for item in placed[1:-1]:
        if (not kept or apart(kept[-1], item)) and apart(item, last):
            kept.append(item)
    kept.append(last)
    return kept


def _wrap(text: str, chars: int) -> list[str]:
    return textwrap.wrap(text, width=max(12, chars), break_long_words=True, break_on_hyphens=False) or [""]


def _number_marker(body: list[str], x: float, y: float, n: int, cls: str) -> None:
    body.append(_tag("circle", cx=x, cy=y, r=8, fill=MED, class_=cls))
    body.append(_tag("text", str(n), x=x, y=y + 4, text_anchor="middle", font_size=11, font_weight=700,
                     fill="#fff", class_=f"{cls}-n"))


def _halo(**attrs) -> dict:
    """A white outline behind text drawn over the plot, so it reads over lines and stripes."""
    return dict(stroke="#fff", stroke_width=3, stroke_linejoin="round", paint_order="stroke", **attrs)


def trend_chart(points: Sequence[Point], *, title: str, total_min: int, total_max: int,
                bands: Sequence[Band] = (), med_changes: Sequence[MedChange] = (),
                higher_is_worse: bool = True, chart_id: str | None = None) -> Markup:
    """Totals over time. x: dates (time-proportional, not evenly spaced; a single date is
    centred; date labels thinned so they don't overlap, '5 Dec 26', or 'Dec 26' for spans of
    more than ~18 months); y: total_min..total_max with a few ticks. Bands shaded as horizontal
    stripes (light colours, rising severity = warmer), each labelled at the left or right edge
    where there is room. A line through the points with a marker each (hollow: an unconfirmed
    self-report; a red ring: a positive risk item); the last value labelled. Medication changes:
    dashed vertical lines at their dates with a numbered marker (1, 2, …) at the top, and the
    numbered list (date and label, wrapped) below the plot. Changes outside the points' date
    range widen the axis to include them when within 30 days; otherwise they are left out. The
    <desc> summarises the first and latest totals with dates, the change, the flagged and
    unconfirmed scores, the bands and the medication changes."""
    cid = _chart_id(chart_id, title)
    lo_total, hi_total = int(total_min), int(total_max)
    if hi_total <= lo_total:
        hi_total = lo_total + 1
    points = sorted(points, key=lambda p: p.on)
    if not points:
        body = [_tag("text", "No scores recorded yet.", x=WIDTH / 2, y=34, text_anchor="middle", font_size=13,
                     fill=MUTED, class_="trend-empty")]
        return _svg(cid, WIDTH, 56, title, f"{title}: no scores recorded yet.", body, "trend")

    first_day, last_day = points[0].on, points[-1].on
    meds = sorted((m for m in med_changes
                   if first_day - dt.timedelta(days=WITHIN_DAYS) <= m.on <= last_day + dt.timedelta(days=WITHIN_DAYS)),
                  key=lambda m: m.on)
    start = min([first_day, *(m.on for m in meds)])
    end = max([last_day, *(m.on for m in meds)])
    if first_day == last_day:      # one visit date: centred, the medication changes around it
        half = max((abs((m.on - first_day).days) for m in meds), default=0)
        start, end = first_day - dt.timedelta(days=half), first_day + dt.timedelta(days=half)
    span = (end - start).days
    long_span = span > LONG_SPAN_DAYS

    ticks = _y_ticks(lo_total, hi_total)
    left = 14 + max(len(str(t)) for t in ticks) * CHAR_W
    right = 14
    pad = 12                        # the first and last markers clear the plot's edges
    x0, x1 = left + pad, WIDTH - right - pad

    # Numbered markers of the medication changes: rows so that near ones do not overlap.
    def x_of(d: dt.date) -> float:
        if span == 0:
            return (x0 + x1) / 2
        return x0 + (x1 - x0) * (d - start).days / span

    rows_end: list[float] = []
    med_rows = []
    for m in meds:
        x = x_of(m.on)
        for r, last_x in enumerate(rows_end):
            if x - last_x >= 18:
                rows_end[r] = x
                med_rows.append(r)
                break
        else:
            if len(rows_end) < 3:
                rows_end.append(x)
                med_rows.append(len(rows_end) - 1)
            else:
                r = min(range(len(rows_end)), key=lambda i: rows_end[i])
                rows_end[r] = x
                med_rows.append(r)
    def marker_y(row: int) -> float:
        return 10 + row * 19

    top = 8 + len(rows_end) * 19 if meds else 12
    bottom = top + PLOT_HEIGHT

    def y_of(total: float) -> float:
        t = min(max(total, lo_total), hi_total)
        return bottom - (bottom - top) * (t - lo_total) / (hi_total - lo_total)

    body: list[str] = []
    # severity bands
    top_severity = max((b.severity for b in bands), default=0)
    band_rects = []
    for b in sorted(bands, key=lambda b: (b.min, b.max)):
        b_lo, b_hi = max(lo_total, b.min - 0.5), min(hi_total, b.max + 0.5)
        if b_lo >= b_hi:
            continue
        y_top, y_bottom = y_of(b_hi), y_of(b_lo)
        fill = _band_fill(b.severity, top_severity)
        body.append(f"<rect{_attrs(x=left, y=y_top, width=WIDTH - right - left, height=y_bottom - y_top, fill=fill, class_=f'trend-band trend-band-s{b.severity}', data_severity=b.severity)}>"
                    f"{_tag('title', f'{b.label}: {b.min}–{b.max}')}</rect>")
        band_rects.append((b, y_top, y_bottom))
    # grid and y ticks
    for t in ticks:
        y = y_of(t)
        edge = t in (lo_total,)
        body.append(_tag("line", x1=left, y1=y, x2=WIDTH - right, y2=y, stroke=MUTED if edge else GRID,
                         stroke_width=1, class_="chart-axis" if edge else "chart-grid"))
        body.append(_tag("text", str(t), x=left - 5, y=y + 4, text_anchor="end", font_size=FONT, fill=MUTED,
                         class_="chart-tick"))
    body.append(_tag("line", x1=left, y1=top, x2=left, y2=bottom, stroke=MUTED, class_="chart-axis"))

    xy = [(x_of(p.on), y_of(p.total)) for p in points]

    # band labels: at the left or right edge, where no marker is in the way
    for b, y_top, y_bottom in band_rects:
        height = y_bottom - y_top
        if height < 13:
            continue
        w = label_width(b.label, 11)
        if w > (WIDTH - right - left) / 2:
            continue
        spots = []
        for y in ((y_top + y_bottom) / 2 + 4, y_top + 12, y_bottom - 3):
            spots += [("start", left + 4, y), ("end", WIDTH - right - 4, y)]
        spots = [s for s in spots if y_top + 11 <= s[2] <= y_bottom - 2] or spots[:2]

        def clear(spot):
            anchor, x, y = spot
            bx0, bx1 = (x, x + w) if anchor == "start" else (x - w, x)
            # the text spans about y-10..y+3; a marker (with its ring) px±9, py±9
            return not any(bx0 - 9 <= px <= bx1 + 9 and y - 19 <= py <= y + 12 for px, py in xy)

        anchor, x, y = next((s for s in spots if clear(s)), spots[0])
        body.append(_tag("text", b.label, x=x, y=y, text_anchor=anchor, font_size=11, fill=INK,
                         class_="trend-band-label", **_halo()))

    # medication changes: dashed lines and numbered markers
    for n, (m, row) in enumerate(zip(meds, med_rows), start=1):
        x = x_of(m.on)
        body.append(f"<line{_attrs(x1=x, y1=marker_y(row) + 8, x2=x, y2=bottom, stroke=MED, stroke_width=1.5, stroke_dasharray='5 4', class_='trend-med-line')}>"
                    f"{_tag('title', f'{n}. {_long_date(m.on)}: {m.label}')}</line>")
    for n, (m, row) in enumerate(zip(meds, med_rows), start=1):
        _number_marker(body, x_of(m.on), marker_y(row), n, "trend-med-marker")

    # x axis: a tick per visit date, labels thinned
    body.append(_tag("line", x1=left, y1=bottom, x2=WIDTH - right, y2=bottom, stroke=MUTED, class_="chart-axis"))
    days = sorted({p.on for p in points})
    for d in days:
        x = x_of(d)
        body.append(_tag("line", x1=x, y1=bottom, x2=x, y2=bottom + 4, stroke=MUTED, class_="chart-axis"))
    labels: list[tuple[float, str]] = []
    for d in days:
        text = date_label(d, long_span)
        if labels and labels[-1][1] == text:   # 'Dec 26' twice: the month once, at its latest visit
            labels.pop()
        labels.append((x_of(d), text))
    for x, text in _thin_labels(labels, 2, WIDTH - 2):
        body.append(_tag("text", text, x=x, y=bottom + 17, text_anchor="middle", font_size=FONT, fill=MUTED,
                         class_="chart-tick trend-date"))

    # the line and the markers
    if len(xy) > 1:
        body.append(_tag("polyline", points=" ".join(f"{_n(x)},{_n(y)}" for x, y in xy), fill="none",
                         stroke=LINE, stroke_width=2.5, stroke_linejoin="round", class_="chart-line trend-line"))
    for p, (x, y) in zip(points, xy):
        tip = f"{_long_date(p.on)}: {p.total}" + (f" ({p.label})" if p.label else "")
        if not p.confirmed:
            tip += ", unconfirmed self-report"
        if p.flagged:
            tip += ", risk item positive"
        if p.flagged:
            body.append(_tag("circle", cx=x, cy=y, r=8.5, fill="none", stroke=FLAG, stroke_width=2.5,
                             class_="trend-flag"))
        if p.confirmed:
            attrs = dict(fill=LINE, stroke="#fff", stroke_width=1.5, class_="trend-marker")
        else:
            attrs = dict(fill="#fff", stroke=LINE, stroke_width=2.5, class_="trend-marker trend-marker-unconfirmed")
        body.append(f"<circle{_attrs(cx=x, cy=y, r=5, **attrs)}>{_tag('title', tip)}</circle>")

    # the latest value, above its marker (below when it sits at the top)
    lx, ly = xy[-1]
    latest = points[-1]
    text = str(latest.total)
    tx, ty = lx, (ly - 11 if ly - 11 - 12 >= top - 6 else ly + 22)
    anchor = "middle" if lx + label_width(text, 13) / 2 <= WIDTH - 2 else "end"
    same_day = len(xy) > 1 and abs(xy[-2][0] - lx) < 1
    if same_day and lx + 9 + label_width(text, 13) <= WIDTH - 2:   # off the vertical line, to the right
        tx, ty, anchor = lx + 9, ly + 4, "start"
    body.append(_tag("text", text, x=tx, y=ty, text_anchor=anchor, font_size=13, font_weight=700, fill=INK,
                     class_="chart-value trend-latest", **_halo()))

    # under the plot: the marker key (when needed) and the numbered medication changes
    y = bottom + 24
    keys = []
    if any(not p.confirmed for p in points):
        keys.append(("unconfirmed", "unconfirmed self-report"))
    if any(p.flagged for p in points):
        keys.append(("flagged", "risk item positive"))
    if keys:
        y += 16
        x = left
        for kind, text in keys:
            if kind == "unconfirmed":
                body.append(_tag("circle", cx=x + 5, cy=y - 4, r=5, fill="#fff", stroke=LINE, stroke_width=2.5,
                                 class_="trend-key"))
            else:
                body.append(_tag("circle", cx=x + 5, cy=y - 4, r=4, fill=LINE, class_="trend-key"))
                body.append(_tag("circle", cx=x + 5, cy=y - 4, r=7.5, fill="none", stroke=FLAG, stroke_width=2.5,
                                 class_="trend-key"))
            body.append(_tag("text", text, x=x + 16, y=y, font_size=FONT, fill=INK, class_="trend-key-label"))
            x += 16 + label_width(text) + 14
    if meds:
        y += 8
        chars = int((WIDTH - 8 - 28) / WRAP_CHAR_W)
        for n, m in enumerate(meds, start=1):
            lines = _wrap(f"{date_label(m.on)}: {m.label}", chars)
            y += LIST_LINE + 2
            _number_marker(body, 14, y - 4, n, "trend-med-marker")
            spans = "".join(f"<tspan{_attrs(x=28, dy=0 if i == 0 else LIST_LINE)}>{escape(line)}</tspan>"
                            for i, line in enumerate(lines))
            body.append(f"<text{_attrs(x=28, y=y, font_size=FONT, fill=INK, class_='trend-med-label')}>{spans}</text>")
            y += LIST_LINE * (len(lines) - 1)
    height = math.ceil(y + 10)

    desc = _describe(title, points, bands, meds, higher_is_worse)
    return _svg(cid, WIDTH, height, title, desc, body, "trend")


def _describe(title: str, points: list[Point], bands: Sequence[Band], meds: list[MedChange],
              higher_is_worse: bool) -> str:
    first, latest = points[0], points[-1]

    def score(p: Point) -> str:
        return f"{p.total}" + (f" ({p.label})" if p.label else "") + f" on {_long_date(p.on)}"

    if len(points) == 1:
        parts = [f"{title}: one score, {score(first)}."]
    else:
        summary = change_summary(first.total, latest.total, higher_is_worse=higher_is_worse)
        parts = [f"{title}: {len(points)} scores. First {score(first)}; latest {score(latest)}. "
                 f"{summary['text']}."]
    unconfirmed = [p for p in points if not p.confirmed]
    if unconfirmed:
        parts.append("Unconfirmed self-report: " + ", ".join(_long_date(p.on) for p in unconfirmed) + ".")
    flagged = [p for p in points if p.flagged]
    if flagged:
        parts.append("Risk item positive: " + ", ".join(_long_date(p.on) for p in flagged) + ".")
    if bands:
        parts.append("Bands: " + "; ".join(f"{b.label} {b.min}–{b.max}" for b in sorted(bands, key=lambda b: b.min))
                     + ".")
    if meds:
        parts.append("Medication changes: " + " ".join(f"{n}. {_long_date(m.on)}: {m.label}."
                                                       for n, m in enumerate(meds, start=1)))
    return " ".join(parts)


__all__ = ["Point", "Band", "MedChange", "trend_chart", "medication_changes", "change_summary", "date_label",
           "label_width"]
