"""The trend chart of rating-scale totals, read the way a reader (or a screen reader) gets
it: the parsed SVG's title and desc, one marker per score, hollow markers for unconfirmed
self-reports, severity stripes in order, date labels apart, medication changes at their
dates; and the medication changes and the change since the first score as text."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from emrs.assessments.trends import Band, MedChange, Point, change_summary, medication_changes, trend_chart

SVG = "{http://www.w3.org/2000/svg}"
D = dt.date
PHQ9_BANDS = [Band(0, 4, "Minimal", 0), Band(5, 9, "Mild", 1), Band(10, 14, "Moderate", 2),
              Band(15, 19, "Moderately severe", 3), Band(20, 27, "Severe", 4)]
# A reader's estimate of a date label's width at 12 px: about 6.5 px a character.
CHAR_PX = 6.5


def parse(markup) -> ET.Element:
    root = ET.fromstring(str(markup))   # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    return root


def text_of(root, tag) -> str:
    return root.find(f"{SVG}{tag}").text


def classed(root, name, tag=None):
    return [e for e in root.iter(f"{SVG}{tag}" if tag else None) if name in (e.get("class") or "").split()]


def strings(root, cls):
    return ["".join(e.itertext()) for e in classed(root, cls)]


def phq9_chart(**extra):
    points = [Point(D(2025, 12, 5), 21, flagged=True, label="Severe"), Point(D(2025, 12, 19), 19),
              Point(D(2026, 1, 9), 17), Point(D(2026, 1, 16), 16), Point(D(2026, 2, 13), 12),
              Point(D(2026, 3, 13), 9, confirmed=False), Point(D(2026, 4, 24), 7),
              Point(D(2026, 6, 5), 5, label="Mild")]
    meds = [MedChange(D(2025, 12, 5), "Started sertraline 50 mg"),
            MedChange(D(2026, 1, 16), "Sertraline 50 mg → 100 mg")]
    kwargs = dict(title="PHQ-9", total_min=0, total_max=27, bands=PHQ9_BANDS, med_changes=meds, chart_id="phq9")
    kwargs.update(extra)
    return points, trend_chart(points, **kwargs)


def test_title_and_desc_name_the_chart_and_summarise_it():
    _points, svg = phq9_chart()
    root = parse(svg)
    assert root.get("aria-labelledby") == "phq9-title phq9-desc"
    assert root.get("width") == "100%" and root.get("viewBox")
    assert text_of(root, "title") == "PHQ-9"
    desc = text_of(root, "desc")
    assert "First 21 (Severe) on 5 Dec 2025" in desc
    assert "latest 5 (Mild) on 5 Jun 2026" in desc
    assert "Down 16 points (−76 %) since the first score: response (≥ 50 % reduction)" in desc
    assert "Risk item positive: 5 Dec 2025" in desc
    assert "Unconfirmed self-report: 13 Mar 2026" in desc
    assert "1. 5 Dec 2025: Started sertraline 50 mg." in desc
    assert "2. 16 Jan 2026: Sertraline 50 mg → 100 mg." in desc


def test_one_marker_per_score_hollow_when_unconfirmed_ringed_when_flagged():
    points, svg = phq9_chart()
    root = parse(svg)
    markers = classed(root, "trend-marker", "circle")
    assert len(markers) == len(points)
    hollow = [m for m in markers if m.get("fill") == "#fff"]
    assert len(hollow) == 1 and "trend-marker-unconfirmed" in hollow[0].get("class")
    assert "13 Mar 2026: 9, unconfirmed self-report" == hollow[0].find(f"{SVG}title").text
    filled = [m for m in markers if m.get("fill") != "#fff"]
    assert len(filled) == 7
    rings = classed(root, "trend-flag", "circle")
    assert len(rings) == 1 and rings[0].get("fill") == "none"
    assert (rings[0].get("cx"), rings[0].get("cy")) == (markers[0].get("cx"), markers[0].get("cy"))
    assert markers[0].find(f"{SVG}title").text == "5 Dec 2025: 21 (Severe), risk item positive"
    # the key under the plot names both marker kinds
    assert strings(root, "trend-key-label") == ["unconfirmed self-report", "risk item positive"]
    # the latest value is written beside its marker
    latest = classed(root, "trend-latest", "text")
    assert [e.text for e in latest] == ["5"]
    assert float(latest[0].get("y")) < float(markers[-1].get("cy"))


def test_markers_are_time_proportional_and_the_line_joins_them():
    points, svg = phq9_chart()
    root = parse(svg)
    xs = [float(m.get("cx")) for m in classed(root, "trend-marker", "circle")]
    days = [(p.on - points[0].on).days for p in points]
    per_day = (xs[-1] - xs[0]) / days[-1]
    for x, d in zip(xs, days):
        assert abs(x - (xs[0] + d * per_day)) < 0.05
    ys = [float(m.get("cy")) for m in classed(root, "trend-marker", "circle")]
    assert ys == sorted(ys)   # falling totals: each marker lower on the page (SVG y grows downwards)
    line = classed(root, "trend-line", "polyline")[0]
    assert len(line.get("points").split()) == len(points)


def test_bands_are_stripes_with_higher_severity_at_higher_totals():
    _points, svg = phq9_chart()
    root = parse(svg)
    rects = classed(root, "trend-band", "rect")
    assert len(rects) == 5
    by_severity = sorted(rects, key=lambda r: int(r.get("data-severity")))
    tops = [float(r.get("y")) for r in by_severity]
    assert tops == sorted(tops, reverse=True)   # SVG y grows downwards: severe on top
    # stripes touch: each one's bottom edge is the next one's top
    for lower, upper in zip(by_severity, by_severity[1:]):
        assert abs(float(upper.get("y")) + float(upper.get("height")) - float(lower.get("y"))) < 0.01
    assert len({r.get("fill") for r in rects}) == 5
    assert [r.find(f"{SVG}title").text for r in by_severity][:2] == ["Minimal: 0–4", "Mild: 5–9"]
    assert set(strings(root, "trend-band-label")) == {b.label for b in PHQ9_BANDS}


def test_bands_when_lower_is_worse_sit_where_their_totals_are():
    bands = [Band(0, 40, "Severe impairment", 3), Band(41, 70, "Moderate", 1), Band(71, 100, "Good", 0)]
    svg = trend_chart([Point(D(2026, 1, 1), 35), Point(D(2026, 3, 1), 60)], title="GAF", total_min=0,
                      total_max=100, bands=bands, higher_is_worse=False)
    root = parse(svg)
    rects = sorted(classed(root, "trend-band", "rect"), key=lambda r: int(r.get("data-severity")))
    tops = [float(r.get("y")) for r in rects]
    assert tops == sorted(tops)   # the most severe band is the lowest stripe
    assert "Up 25 points (+71 %) since the first score: response (≥ 50 % improvement)" in text_of(root, "desc")


def test_date_labels_do_not_collide():
    # weekly visits for three months: far more dates than room for labels
    points = [Point(D(2026, 1, 1) + dt.timedelta(days=7 * i), 20 - i) for i in range(14)]
    root = parse(trend_chart(points, title="GAD-7", total_min=0, total_max=21))
    labels = classed(root, "trend-date", "text")
    assert 2 <= len(labels) < len(points)
    assert labels[0].text == "1 Jan 26" and labels[-1].text == "2 Apr 26"   # the first and the latest
    spans = sorted((float(e.get("x")), len(e.text) * CHAR_PX) for e in labels)
    for (xa, wa), (xb, wb) in zip(spans, spans[1:]):
        assert xb - xa >= (wa + wb) / 2
    width = float(root.get("viewBox").split()[2])
    assert all(x - w / 2 >= 0 and x + w / 2 <= width for x, w in spans)


def test_a_long_span_is_labelled_by_month():
    points = [Point(D(2024, 1, 10), 30), Point(D(2025, 2, 1), 25), Point(D(2026, 3, 1), 12)]
    root = parse(trend_chart(points, title="HAM-D", total_min=0, total_max=52))
    assert [e.text for e in classed(root, "trend-date", "text")] == ["Jan 24", "Feb 25", "Mar 26"]


def test_a_medication_change_line_sits_at_its_date_between_two_scores():
    points = [Point(D(2026, 1, 1), 20), Point(D(2026, 1, 31), 14)]
    svg = trend_chart(points, title="PHQ-9", total_min=0, total_max=27,
                      med_changes=[MedChange(D(2026, 1, 11), "Started escitalopram 10 mg")])
    root = parse(svg)
    x1, x2 = (float(m.get("cx")) for m in classed(root, "trend-marker", "circle"))
    lines = classed(root, "trend-med-line", "line")
    assert len(lines) == 1
    x = float(lines[0].get("x1"))
    assert lines[0].get("x2") == lines[0].get("x1") and lines[0].get("stroke-dasharray")
    assert abs(x - (x1 + (x2 - x1) / 3)) < 0.05      # 10 of the 30 days
    number = [e.text for e in classed(root, "trend-med-marker-n", "text")]
    assert number == ["1", "1"]   # at the top of the line and before its entry in the list
    assert strings(root, "trend-med-label") == ["11 Jan 26: Started escitalopram 10 mg"]


def test_medication_changes_outside_the_scores_widen_the_axis_only_within_30_days():
    points = [Point(D(2026, 2, 1), 20), Point(D(2026, 3, 1), 14)]
    meds = [MedChange(D(2026, 1, 12), "Started sertraline 50 mg"),     # 20 days before: shown
            MedChange(D(2025, 6, 1), "Started fluoxetine 20 mg"),      # months before: left out
            MedChange(D(2026, 5, 1), "Stopped sertraline")]            # 61 days after: left out
    root = parse(trend_chart(points, title="PHQ-9", total_min=0, total_max=27, med_changes=meds))
    lines = classed(root, "trend-med-line", "line")
    assert len(lines) == 1
    first_marker = float(classed(root, "trend-marker", "circle")[0].get("cx"))
    assert float(lines[0].get("x1")) < first_marker
    assert strings(root, "trend-med-label") == ["12 Jan 26: Started sertraline 50 mg"]
    desc = text_of(root, "desc")
    assert "fluoxetine" not in desc and "Stopped sertraline" not in desc


def test_long_medication_labels_wrap_into_lines():
    label = "Olanzapine 10 mg → 20 mg; Started trihexyphenidyl 2 mg; Stopped haloperidol … +2 more"
    root = parse(trend_chart([Point(D(2026, 1, 1), 60), Point(D(2026, 2, 1), 50)], title="BPRS", total_min=18,
                             total_max=126, med_changes=[MedChange(D(2026, 1, 15), label)]))
    entry = classed(root, "trend-med-label", "text")[0]
    lines = [t.text for t in entry.iter(f"{SVG}tspan")]
    assert len(lines) >= 2 and " ".join(lines) == f"15 Jan 26: {label}"
    assert all(len(line) <= 52 for line in lines)


def test_every_text_is_escaped():
    hostile = "<script>alert(1)</script>"
    svg = trend_chart([Point(D(2026, 1, 1), 10, label=hostile), Point(D(2026, 2, 1), 8)], title=f"PHQ {hostile}",
                      total_min=0, total_max=27, bands=[Band(0, 27, hostile, 0)],
                      med_changes=[MedChange(D(2026, 1, 10), hostile)], chart_id='x" onload="alert(1)')
    assert "<script" not in str(svg) and "onload=" not in str(svg)
    root = parse(svg)
    assert text_of(root, "title") == f"PHQ {hostile}"
    assert hostile in text_of(root, "desc")
    assert strings(root, "trend-band-label") == [hostile]
    assert strings(root, "trend-med-label") == [f"10 Jan 26: {hostile}"]


def test_a_single_score_is_centred():
    root = parse(trend_chart([Point(D(2026, 2, 2), 24, label="Severe")], title="HAM-D", total_min=0, total_max=52))
    marker, = classed(root, "trend-marker", "circle")
    axis = [e for e in classed(root, "chart-axis", "line") if e.get("y1") == e.get("y2")]
    left, right = float(axis[-1].get("x1")), float(axis[-1].get("x2"))
    assert abs(float(marker.get("cx")) - (left + right) / 2) < 0.05
    assert not classed(root, "trend-line")
    assert [e.text for e in classed(root, "trend-date", "text")] == ["2 Feb 26"]
    assert [e.text for e in classed(root, "trend-latest", "text")] == ["24"]
    assert text_of(root, "desc") == "HAM-D: one score, 24 (Severe) on 2 Feb 2026."


def test_two_scores_on_the_same_day():
    points = [Point(D(2026, 2, 2), 18), Point(D(2026, 2, 2), 15, confirmed=False)]
    root = parse(trend_chart(points, title="PHQ-9", total_min=0, total_max=27))
    markers = classed(root, "trend-marker", "circle")
    assert len(markers) == 2 and markers[0].get("cx") == markers[1].get("cx")
    assert [e.text for e in classed(root, "trend-date", "text")] == ["2 Feb 26"]   # the date once
    latest, = classed(root, "trend-latest", "text")   # beside the vertical line, not on it
    assert latest.text == "15" and float(latest.get("x")) > float(markers[1].get("cx"))
    assert "Down 3 points (−17 %) since the first score." in text_of(root, "desc")


def test_no_scores_says_so():
    root = parse(trend_chart([], title="YMRS", total_min=0, total_max=60))
    assert strings(root, "trend-empty") == ["No scores recorded yet."]
    assert text_of(root, "desc") == "YMRS: no scores recorded yet."


def test_totals_outside_the_scale_stay_inside_the_plot():
    root = parse(trend_chart([Point(D(2026, 1, 1), 40), Point(D(2026, 1, 8), -3)], title="PHQ-9", total_min=0,
                             total_max=27))
    ys = [float(m.get("cy")) for m in classed(root, "trend-marker", "circle")]
    ticks = {e.text: float(e.get("y")) - 4 for e in classed(root, "chart-tick", "text") if e.text.isdigit()}
    assert abs(ys[0] - ticks["27"]) < 0.05 and abs(ys[1] - ticks["0"]) < 0.05


def test_no_style_attribute_anywhere():
    _points, svg = phq9_chart()
    root = parse(svg)
    assert all("style" not in e.attrib for e in root.iter())
    assert "style=" not in str(svg) and "<style" not in str(svg)


def test_the_y_axis_shows_the_scale_ends_and_a_few_round_ticks():
    root = parse(trend_chart([Point(D(2026, 1, 1), 50)], title="BPRS", total_min=18, total_max=126))
    assert [e.text for e in classed(root, "chart-tick", "text") if "trend-date" not in e.get("class")] == \
        ["18", "40", "60", "80", "100", "126"]


# ---------------------------------------------------------------- medication_changes

def test_first_prescription_starts_everything_and_later_ones_give_the_differences():
    changes = medication_changes([
        (D(2026, 1, 1), [("Sertraline", "50 mg"), ("Clonazepam", "0.25 mg")]),
        (D(2026, 2, 1), [(" sertraline ", "100 mg"), ("CLONAZEPAM", "0.25 MG")]),
        (D(2026, 3, 1), [("Sertraline", "100 mg"), ("Mirtazapine", "7.5 mg")]),
        (D(2026, 4, 1), [("Sertraline", "100mg"), ("Mirtazapine", "7.5 mg")]),
    ])
    assert changes == [
        MedChange(D(2026, 1, 1), "Started Sertraline 50 mg; Started Clonazepam 0.25 mg"),
        MedChange(D(2026, 2, 1), "Sertraline 50 mg → 100 mg"),
        MedChange(D(2026, 3, 1), "Started Mirtazapine 7.5 mg; Stopped CLONAZEPAM"),
    ]   # 1 April: the same regimen ('100mg' is '100 mg'), no change


def test_same_day_prescriptions_are_merged_before_comparing():
    changes = medication_changes([
        (D(2026, 1, 1), [("Lithium", "300 mg")]),
        (D(2026, 2, 1), [("Lithium", "300 mg")]),
        (D(2026, 2, 1), [("Quetiapine", "25 mg")]),
        (D(2026, 3, 1), []),
    ])
    assert changes == [
        MedChange(D(2026, 1, 1), "Started Lithium 300 mg"),
        MedChange(D(2026, 2, 1), "Started Quetiapine 25 mg"),   # lithium, in the other same-day one, continues
        MedChange(D(2026, 3, 1), "Stopped Lithium; Stopped Quetiapine"),
    ]


def test_prescriptions_out_of_order_and_blank_names():
    changes = medication_changes([
        (D(2026, 2, 1), [("Fluoxetine", "40 mg"), ("  ", "5 mg")]),
        (D(2026, 1, 1), [("Fluoxetine", "20 mg")]),
    ])
    assert changes == [MedChange(D(2026, 1, 1), "Started Fluoxetine 20 mg"),
                       MedChange(D(2026, 2, 1), "Fluoxetine 20 mg → 40 mg")]
    assert medication_changes([]) == []


def test_many_changes_on_one_date_are_cut_with_the_count_of_the_rest():
    names = ["Sertraline", "Olanzapine", "Clonazepam", "Propranolol", "Trihexyphenidyl", "Lithium", "Valproate"]
    changes = medication_changes([(D(2026, 1, 1), [(n, "10 mg") for n in names])])
    assert len(changes) == 1
    label = changes[0].label
    assert len(label) <= 80
    shown = label.split(" … ")[0].split("; ")
    assert label.endswith(f" … +{len(names) - len(shown)} more")
    assert shown[0] == "Started Sertraline 10 mg" and len(shown) < len(names)


# ---------------------------------------------------------------- change_summary

@pytest.mark.parametrize("first, latest, kwargs, expected", [
    (21, 9, {}, {"change": -12, "percent": -57, "direction": "better", "response": True,
                 "text": "Down 12 points (−57 %) since the first score: response (≥ 50 % reduction)"}),
    (20, 12, {}, {"change": -8, "percent": -40, "direction": "better", "response": False,
                  "text": "Down 8 points (−40 %) since the first score"}),
    (10, 13, {}, {"change": 3, "percent": 30, "direction": "worse", "response": False,
                  "text": "Up 3 points (+30 %) since the first score"}),
    (12, 12, {}, {"change": 0, "percent": 0, "direction": "same", "response": False, "text": "No change since the first score"}),
    (0, 3, {}, {"change": 3, "percent": None, "direction": "worse", "response": None,
                "text": "Up 3 points since the first score"}),
    (0, 0, {}, {"change": 0, "percent": None, "direction": "same", "response": None,
                "text": "No change since the first score"}),
    (8, 7, {}, {"change": -1, "percent": -13, "direction": "better", "response": False,
                "text": "Down 1 point (−13 %) since the first score"}),
    (20, 10, {"response_reduction": None}, {"change": -10, "percent": -50, "direction": "better", "response": None,
                                            "text": "Down 10 points (−50 %) since the first score"}),
    (20, 15, {"response_reduction": 0.25}, {"response": True,
                                            "text": "Down 5 points (−25 %) since the first score: response (≥ 25 % reduction)"}),
    (40, 65, {"higher_is_worse": False}, {"change": 25, "percent": 63, "direction": "better", "response": True}),
    (60, 45, {"higher_is_worse": False}, {"direction": "worse", "response": False}),
])
def test_change_summary(first, latest, kwargs, expected):
    out = change_summary(first, latest, **kwargs)
    assert {k: out[k] for k in expected} == expected


def test_a_short_scale_gets_every_total_as_a_tick():
    root = parse(trend_chart([Point(D(2026, 1, 1), 5)], title="CGI-S", total_min=1, total_max=7))
    assert [e.text for e in classed(root, "chart-tick", "text") if "trend-date" not in e.get("class")] == \
        ["1", "2", "3", "4", "5", "6", "7"]
