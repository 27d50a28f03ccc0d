"""WHO z-scores against the published WHO tables: the median gives z≈0 and the published
+2 SD value z≈2, for a boy and a girl at two ages each (WHO Child Growth Standards 2006
below 5 years, WHO Growth Reference 2007 above). And the chart: reference lines, the
child's point, a caption; a clear message (never an error) where the reference cannot help."""
from __future__ import annotations

import datetime as dt

import pytest

from emrs.cap import growth

ON = dt.date(2026, 1, 1)
ONE_YEAR_OLD = dt.date(2025, 1, 1)   # 365 days
TEN_YEAR_OLD = dt.date(2016, 1, 1)   # 120 months


@pytest.mark.parametrize("measure, sex, born, median, plus2", [
    # WHO 2006 length-for-age, boys 12 months: median 75.7, +2 SD 80.5 cm
    ("height", "M", ONE_YEAR_OLD, 75.7, 80.5),
    # WHO 2006 weight-for-age, girls 12 months: median 8.9, +2 SD 11.5 kg
    ("weight", "F", ONE_YEAR_OLD, 8.9, 11.5),
    # WHO 2006 head circumference-for-age, boys 12 months: median 46.1, +2 SD 48.6 cm
    ("head", "M", ONE_YEAR_OLD, 46.1, 48.6),
    # WHO 2007 height-for-age, boys 10 years: median 137.8, +2 SD 150.5 cm
    ("height", "M", TEN_YEAR_OLD, 137.8, 150.5),
    # WHO 2007 BMI-for-age, girls 10 years: median 16.6, +2 SD 22.6 kg/m²
    ("bmi", "F", TEN_YEAR_OLD, 16.6, 22.6),
    # WHO 2007 weight-for-age, girls 10 years: median 31.9, +2 SD 46.9 kg
    # (the weight reference ends at 10 years: measured the day before the 10th birthday)
    ("weight", "F", dt.date(2016, 1, 2), 31.9, 46.9),
])
def test_z_scores_match_the_who_tables(measure, sex, born, median, plus2):
    at_median = growth.zscore(measure, median, sex, born, ON)
    at_plus2 = growth.zscore(measure, plus2, sex, born, ON)
    assert abs(at_median["z"]) < 0.06 and 47 < at_median["centile"] < 53
    assert abs(at_plus2["z"] - 2) < 0.06 and 97 < at_plus2["centile"] < 98.5


def test_reference_lines_are_the_table_values():
    assert abs(growth.at_z("height", "male", 365, 0) - 75.7) < 0.1
    assert abs(growth.at_z("height", "male", 365, 2) - 80.5) < 0.1
    assert growth.bmi(140, 35) == 17.9


@pytest.mark.parametrize("sex, born, measure, value, expected", [
    (None, TEN_YEAR_OLD, "height", 140, "no sex of M or F"),
    ("M", None, "height", 140, "Add the date of birth"),
    ("F", dt.date(2012, 1, 1), "weight", 50, "defined up to 10 years"),
    ("F", dt.date(2020, 1, 1), "head", 50, "defined up to 5 years"),
    ("M", dt.date(2020, 1, 1), "height", 999, "outside the reference"),
    ("M", dt.date(2027, 1, 1), "height", 100, "before the date of birth"),
    ("M", dt.date(2000, 1, 1), "height", 170, "end at 19 years"),
])
def test_unplaceable_measurements_get_a_message(sex, born, measure, value, expected):
    out = growth.zscore(measure, value, sex, born, ON)
    assert out["z"] is None and expected in out["message"]


class _M:
    def __init__(self, on, h=None, w=None, hc=None, id=1):
        self.measured_on, self.height_cm, self.weight_kg, self.head_circumference_cm, self.id = on, h, w, hc, id


def test_chart_svg_has_lines_points_labels_and_caption():
    charts = growth.charts_for([_M(dt.date(2025, 1, 1), 130, 27, id=1), _M(ON, 137.8, 31, id=2)], "M", TEN_YEAR_OLD)
    by = {c["measure"]: c for c in charts}
    assert set(by) == {"height", "weight", "bmi"}
    svg = str(by["height"]["svg"])
    assert svg.startswith("<svg") and 'role="img"' in svg and "style=" not in svg and "<script" not in svg
    assert svg.count('class="chart-ref') == 5 and svg.count('class="chart-child-point"') == 2
    assert "Age (years, months)" in svg and "Height (cm)" in svg and "10y" in svg
    assert "z = +0.00 (50th centile)" in by["height"]["caption"]


def test_chart_without_birth_date_is_a_message():
    charts = growth.charts_for([_M(ON, 137.8, 31)], "M", None)
    assert charts and all(c["svg"] is None and "date of birth" in c["message"] for c in charts)
