"""Small server-side SVG charts: bar, line and donut, as Markup ready for a template.

Pure string building, every text escaped. Each chart is ``<svg role="img">`` with a
``<title>`` and ``<desc>`` (named by ``aria-labelledby``), axis labels and value labels.
No inline ``style=`` (the CSP forbids it): colours are presentation attributes, and the
``chart-*`` classes let static/css/app.css restyle them. The SVG scales to its container
(``width="100%"`` + ``viewBox``); the view boxes are sized so the text stays readable
on a 390 px wide phone. A page should still show the same numbers as a table: a chart is
never the only place a figure appears.

``series`` is a sequence of ``(label, value)`` pairs; labels are str (or anything with a
useful ``str()``), values non-negative numbers.
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Callable, Iterable, Sequence

from markupsafe import Markup, escape

Series = Sequence[tuple[object, float]]

# Colour-blind-safe palette (Okabe–Ito, darkened where needed for contrast on white).
PALETTE = ("#0b5d7a", "#d55e00", "#009e73", "#cc79a7", "#8a5a00", "#56b4e9", "#5b6b7b")
BAR_FILL = PALETTE[0]
MUTED = "#5b6b7b"
INK = "#1c2733"
GRID = "#d8e0e8"

_ids = itertools.count(1)


def fmt_count(value: float) -> str:
    """An integer with Indian digit grouping (12,34,567); other numbers to 1 decimal."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    n = int(value)
    sign, s = ("-" if n < 0 else ""), str(abs(n))
    if len(s) <= 3:
        return sign + s
    head, tail = s[:-3], s[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return sign + ",".join(groups) + "," + tail


def _n(x: float) -> str:
    """A coordinate: short, no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _attrs(**attrs) -> str:
    out = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = _n(value)
        out.append(f' {name}="{escape(str(value))}"')
    return "".join(out)


def _tag(name: str, text: str | None = None, **attrs) -> str:
    if text is None:
        return f"<{name}{_attrs(**attrs)}/>"
    return f"<{name}{_attrs(**attrs)}>{escape(text)}</{name}>"


def _chart_id(chart_id: str | None, title: str) -> str:
    if chart_id:
        return re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:30] or "chart"
    return f"chart-{slug}-{next(_ids)}"


def _nice_max(value: float) -> float:
    """A round axis maximum ≥ value (1, 2, 2.5, 5 × 10^k)."""
    if value <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp


def _svg(cid: str, width: int, height: int, title: str, desc: str, body: Iterable[str],
         kind: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img"{_attrs(id=cid, class_=f"chart chart-{kind}")}'
            f' viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet"'
            f' aria-labelledby="{cid}-title {cid}-desc" font-family="Noto Sans, DejaVu Sans, sans-serif">')
    parts = [head, _tag("title", title, id=f"{cid}-title"), _tag("desc", desc, id=f"{cid}-desc"), *body, "</svg>"]
    return Markup("".join(parts))


def _summary(series: Series, fmt: Callable[[float], str]) -> str:
    return "; ".join(f"{label}: {fmt(value)}" for label, value in series)


# --------------------------------------------------------------------- bar chart

def bar_chart(series: Series, *, title: str, desc: str | None = None, x_label: str = "",
              y_label: str = "", horizontal: bool | None = None, chart_id: str | None = None,
              label_every: int | None = None, fmt: Callable[[float], str] = fmt_count,
              width: int | None = None) -> Markup:
    """Bars for ``series``. Horizontal (labels on the left, one row each) suits a few
    named categories; vertical suits a time series. ``horizontal=None`` picks vertical
    for more than 8 bars. ``label_every`` thins the category labels of a vertical chart."""
    series = [(str(label), max(0, value or 0)) for label, value in series]
    if horizontal is None:
        horizontal = len(series) <= 8
    cid = _chart_id(chart_id, title)
    desc = desc or (f"{title}. " + (_summary(series, fmt) if series else "No data."))
    if horizontal:
        w, h, body = _hbars(series, x_label, y_label, fmt, width or 400)
    else:
        w, h, body = _vbars(series, x_label, y_label, fmt, label_every, width or 360)
    return _svg(cid, w, h, title, desc, body, "bar")


def _hbars(series, x_label, y_label, fmt, width):
    row, gap, font = 30, 8, 13
    longest = max((len(label) for label, _ in series), default=4)
    left = min(max(48, longest * 7.2 + 12), width * 0.42)
    right = 14 + max((len(fmt(v)) for _, v in series), default=1) * 8
    top = 8 + (18 if y_label else 0)
    plot_w = width - left - right
    height = top + max(1, len(series)) * row + (30 if x_label else 8)
    peak = max((v for _, v in series), default=0) or 1
    body = []
    if y_label:  # names the category column
        body.append(_tag("text", y_label, x=left - 8, y=14, text_anchor="end", font_size=12,
                         fill=MUTED, class_="chart-axis-label"))
    base = top + len(series) * row
    body.append(_tag("line", x1=left, y1=top - 2, x2=left, y2=base, stroke=MUTED, class_="chart-axis"))
    for i, (label, value) in enumerate(series):
        y = top + i * row
        bar_w = plot_w * value / peak
        body.append(_tag("text", label, x=left - 8, y=y + row / 2 + 4.5, text_anchor="end", font_size=font,
                         fill=INK, class_="chart-label"))
        body.append(_tag("rect", x=left, y=y + gap / 2, width=max(bar_w, 0), height=row - gap, rx=2,
                         fill=BAR_FILL, class_="chart-bar"))
        body.append(_tag("text", fmt(value), x=left + bar_w + 6, y=y + row / 2 + 4.5, font_size=font,
                         font_weight=600, fill=INK, class_="chart-value"))
    if x_label:
        body.append(_tag("text", x_label, x=left + plot_w / 2, y=height - 8, text_anchor="middle", font_size=12,
                         fill=MUTED, class_="chart-axis-label"))
    return width, height, body


def _scale(peak: float) -> tuple[float, float]:
    """(axis maximum, tick step): at most 5 whole-number steps of 1, 2, 2.5 or 5 × 10^k."""
    if peak <= 0:
        return 1, 1
    step = max(1.0, _nice_max(peak / 5))
    if step != int(step):           # 2.5 × 10^k is whole for k ≥ 1 only
        step = _nice_max(step + 0.01)
    top = math.ceil(peak / step) * step
    return top, step


def _value_axis(body, top, bottom, left, right_edge, peak, fmt):
    """Horizontal grid lines with the value ticks on the left; returns the axis maximum."""
    axis_top, step = _scale(peak)
    for k in range(int(round(axis_top / step)) + 1):
        t = k * step
        y = bottom - (bottom - top) * t / axis_top
        body.append(_tag("line", x1=left, y1=y, x2=right_edge, y2=y, stroke=GRID if t else MUTED,
                         class_="chart-grid" if t else "chart-axis"))
        body.append(_tag("text", fmt(t), x=left - 5, y=y + 4, text_anchor="end", font_size=12, fill=MUTED,
                         class_="chart-tick"))
    return axis_top


def _category_axis(body, series, x_of, bottom, label_every, x_label, width, left, right):
    n = len(series)
    every = label_every or max(1, math.ceil(n / 6))
    for i, (label, _v) in enumerate(series):
        if (n - 1 - i) % every == 0:   # counted back from the last (latest) one, which is always named
            body.append(_tag("text", label, x=x_of(i), y=bottom + 17, text_anchor="middle", font_size=12,
                             fill=MUTED, class_="chart-tick"))
    if x_label:
        body.append(_tag("text", x_label, x=left + (width - left - right) / 2, y=bottom + 38,
                         text_anchor="middle", font_size=12, fill=MUTED, class_="chart-axis-label"))


def _y_axis_label(body, y_label, top, bottom):
    if y_label:
        cy = (top + bottom) / 2
        body.append(_tag("text", y_label, x=12, y=cy, text_anchor="middle", font_size=12, fill=MUTED,
                         transform=f"rotate(-90 12 {_n(cy)})", class_="chart-axis-label"))


def _vbars(series, x_label, y_label, fmt, label_every, width):
    peak = max((v for _, v in series), default=0)
    left = 14 + (18 if y_label else 0) + len(fmt(_scale(peak)[0])) * 7
    right = 16   # room for half of the last (centred) day label
    n = max(1, len(series))
    slot = (width - left - right) / n
    # Values sideways when the slot is too narrow for the widest figure; room above for them.
    widest = max((len(fmt(v)) for _, v in series), default=1) * 6.8
    sideways = widest > slot
    top = 10 + (widest if sideways else 14)
    bottom = top + 180
    height = bottom + (46 if x_label else 24)
    body: list[str] = []
    axis_top = _value_axis(body, top, bottom, left, width - right, peak, fmt)
    _y_axis_label(body, y_label, top, bottom)
    bar_w = max(1.0, slot * 0.72)
    for i, (label, value) in enumerate(series):
        x = left + i * slot + (slot - bar_w) / 2
        h = (bottom - top) * value / axis_top
        body.append(_tag("rect", x=x, y=bottom - h, width=bar_w, height=h, fill=BAR_FILL, class_="chart-bar"))
        if value:
            cx, vy = x + bar_w / 2, bottom - h - 4
            if sideways:
                body.append(_tag("text", fmt(value), x=cx, y=vy, font_size=11, font_weight=600, fill=INK,
                                 transform=f"rotate(-90 {_n(cx)} {_n(vy)})", dominant_baseline="central",
                                 class_="chart-value"))
            else:
                body.append(_tag("text", fmt(value), x=cx, y=vy, text_anchor="middle", font_size=11,
                                 font_weight=600, fill=INK, class_="chart-value"))
    _category_axis(body, series, lambda i: left + i * slot + slot / 2, bottom, label_every, x_label,
                   width, left, right)
    return width, height, body


# --------------------------------------------------------------------- line chart

def line_chart(series: Series, *, title: str, desc: str | None = None, x_label: str = "",
               y_label: str = "", chart_id: str | None = None, label_every: int | None = None,
               fmt: Callable[[float], str] = fmt_count, width: int = 400,
               value_labels: bool | None = None) -> Markup:
    """A line with a dot per point, for a trend. Value labels are drawn when there are
    at most 16 points (``value_labels`` forces either way)."""
    series = [(str(label), max(0, value or 0)) for label, value in series]
    cid = _chart_id(chart_id, title)
    desc = desc or (f"{title}. " + (_summary(series, fmt) if series else "No data."))
    peak = max((v for _, v in series), default=0)
    left = 26 + (16 if y_label else 0) + len(fmt(_scale(peak)[0])) * 6
    right, top, bottom = 12, 24, 200
    height = bottom + (44 if x_label else 24)
    n = max(1, len(series))
    slot = (width - left - right) / n
    body: list[str] = []
    axis_top = _value_axis(body, top, bottom, left, width - right, peak, fmt)
    _y_axis_label(body, y_label, top, bottom)

    def xy(i, v):
        return left + i * slot + slot / 2, bottom - (bottom - top) * v / axis_top

    points = [xy(i, v) for i, (_l, v) in enumerate(series)]
    if len(points) > 1:
        body.append(_tag("polyline", points=" ".join(f"{_n(x)},{_n(y)}" for x, y in points), fill="none",
                         stroke=BAR_FILL, stroke_width=2.5, stroke_linejoin="round", class_="chart-line"))
    show_values = value_labels if value_labels is not None else len(series) <= 16
    for (x, y), (_label, value) in zip(points, series):
        body.append(_tag("circle", cx=x, cy=y, r=3.5, fill=BAR_FILL, class_="chart-dot"))
        if show_values:
            body.append(_tag("text", fmt(value), x=x, y=y - 8, text_anchor="middle", font_size=10,
                             font_weight=600, fill=INK, class_="chart-value"))
    _category_axis(body, series, lambda i: left + i * slot + slot / 2, bottom, label_every, x_label,
                   width, left, right)
    return _svg(cid, width, height, title, desc, body, "line")


# --------------------------------------------------------------------- donut

def donut_or_bars(series: Series, *, title: str, desc: str | None = None, max_slices: int = 4,
                  chart_id: str | None = None, fmt: Callable[[float], str] = fmt_count,
                  x_label: str = "", y_label: str = "") -> Markup:
    """A donut with a legend (count and share) for a few parts of one whole; horizontal
    bars when there are more than ``max_slices`` parts or nothing to divide."""
    series = [(str(label), max(0, value or 0)) for label, value in series]
    total = sum(v for _, v in series)
    if len(series) > max_slices or total <= 0:
        return bar_chart(series, title=title, desc=desc, chart_id=chart_id, fmt=fmt, horizontal=True,
                         x_label=x_label, y_label=y_label)
    cid = _chart_id(chart_id, title)
    desc = desc or (f"{title}, total {fmt(total)}. "
                    + "; ".join(f"{label}: {fmt(v)} ({_pct(v, total)})" for label, v in series))
    width, height = 400, max(180, 40 + len(series) * 36)
    cx, cy, r, stroke = 90, height / 2, 62, 30
    circumference = 2 * math.pi * r
    body = [_tag("circle", cx=cx, cy=cy, r=r, fill="none", stroke=GRID, stroke_width=stroke,
                 class_="chart-track")]
    offset = 0.0
    for i, (label, value) in enumerate(series):
        if value <= 0:
            continue
        length = circumference * value / total
        # Each slice is a dashed circle stroke, started at 12 o'clock and going clockwise.
        body.append(_tag("circle", cx=cx, cy=cy, r=r, fill="none", stroke=PALETTE[i % len(PALETTE)],
                         stroke_width=stroke,
                         stroke_dasharray=f"{_n(length)} {_n(circumference - length)}",
                         stroke_dashoffset=_n(-offset), transform=f"rotate(-90 {cx} {_n(cy)})",
                         class_=f"chart-slice chart-c{i % len(PALETTE)}"))
        offset += length
    body.append(_tag("text", fmt(total), x=cx, y=cy + 2, text_anchor="middle", font_size=20, font_weight=700,
                     fill=INK, class_="chart-total"))
    body.append(_tag("text", "total", x=cx, y=cy + 18, text_anchor="middle", font_size=11, fill=MUTED,
                     class_="chart-tick"))
    lx = 186
    ly0 = cy - (len(series) * 36) / 2 + 14
    for i, (label, value) in enumerate(series):
        y = ly0 + i * 36
        body.append(_tag("rect", x=lx, y=y - 11, width=14, height=14, rx=3, fill=PALETTE[i % len(PALETTE)],
                         class_=f"chart-key chart-c{i % len(PALETTE)}"))
        body.append(_tag("text", label, x=lx + 22, y=y, font_size=13, fill=INK, class_="chart-label"))
        body.append(_tag("text", f"{fmt(value)} · {_pct(value, total)}", x=lx + 22, y=y + 16, font_size=12,
                         font_weight=600, fill=MUTED, class_="chart-value"))
    return _svg(cid, width, height, title, desc, body, "donut")


def _pct(value: float, total: float) -> str:
    return f"{100 * value / total:.0f}%" if total else "0%"
