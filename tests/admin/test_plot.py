"""The wall-thickness plot's geometry (admin/plot.py) as data: where each line lands."""

from __future__ import annotations

import datetime

import pytest

from reliatic_appliance.admin.plot import MARGIN, PROJECTION_YEARS, thickness_plot
from reliatic_appliance.domain.corrosion import DAYS_PER_YEAR, ThicknessReading

D = datetime.date
READINGS = [
    ThicknessReading(D(2016, 5, 1), 19.0),
    ThicknessReading(D(2020, 5, 1), 17.0),
    ThicknessReading(D(2024, 5, 1), 15.0),
]


def test_nothing_to_plot_without_readings() -> None:
    assert thickness_plot([], required_mm=10.0, rate_mm_per_year=0.5) is None


def test_readings_run_left_to_right_and_thinner_is_lower() -> None:
    plot = thickness_plot(list(reversed(READINGS)), required_mm=10.0, rate_mm_per_year=0.5)
    assert plot is not None
    xs = [m.x for m in plot.readings]
    ys = [m.y for m in plot.readings]
    assert xs == sorted(xs)
    assert xs[0] == pytest.approx(plot.left)
    assert ys == sorted(ys)  # SVG y grows downwards: each reading thinner than the last
    assert all(plot.top <= y <= plot.bottom for y in ys)
    assert plot.readings[0].label == "2016-05-01: 19 mm"
    assert plot.reading_points.count(",") == 3


def test_the_rate_line_reaches_the_required_thickness_when_remaining_life_allows() -> None:
    # 15 mm now, 10 mm required, 0.5 mm/year: the wall reaches 10 mm 10 years on: the line
    # ends on the required line, at the plot's right edge.
    plot = thickness_plot(READINGS, required_mm=10.0, rate_mm_per_year=0.5)
    assert plot is not None and plot.rate_line is not None and plot.required_y is not None
    start, end = plot.rate_line
    assert (start.x, start.y) == (plot.readings[-1].x, plot.readings[-1].y)
    assert end.y == pytest.approx(plot.required_y, abs=0.5)
    assert end.x == pytest.approx(plot.right)
    assert plot.rate_label == "0.5 mm/year"
    assert plot.required_label == "required 10 mm"


def test_the_rate_line_stops_after_the_projection_limit() -> None:
    # 0.1 mm/year: 50 years to go; the line stops after PROJECTION_YEARS, above the limit.
    plot = thickness_plot(READINGS, required_mm=10.0, rate_mm_per_year=0.1)
    assert plot is not None and plot.rate_line is not None and plot.required_y is not None
    start, end = plot.rate_line
    assert end.y < plot.required_y
    # Its slope is the rate: the drop over PROJECTION_YEARS is 1 mm in plot units.
    mm_per_unit = (15.0 - 10.0) / (plot.required_y - start.y)
    assert (end.y - start.y) * mm_per_unit == pytest.approx(
        0.1 * (int(PROJECTION_YEARS * DAYS_PER_YEAR) / DAYS_PER_YEAR), rel=1e-3
    )


@pytest.mark.parametrize("rate", [None, 0.0, -0.2], ids=["no-rate", "zero", "thickening"])
def test_no_rate_line_without_a_positive_rate(rate: float | None) -> None:
    plot = thickness_plot(READINGS, required_mm=10.0, rate_mm_per_year=rate)
    assert plot is not None and plot.rate_line is None and plot.rate_label is None
    assert plot.readings[-1].x == pytest.approx(plot.right)


def test_a_wall_already_below_its_limit_has_the_line_start_and_end_together() -> None:
    plot = thickness_plot(READINGS, required_mm=16.0, rate_mm_per_year=0.5)
    assert plot is not None and plot.rate_line is not None and plot.required_y is not None
    start, end = plot.rate_line
    assert start == end
    assert plot.readings[-1].y > plot.required_y  # below the required line


def test_one_reading_without_a_rate_is_centred_in_a_two_year_window() -> None:
    plot = thickness_plot([READINGS[0]], required_mm=None, rate_mm_per_year=None)
    assert plot is not None
    assert plot.required_y is None and plot.required_label is None
    assert plot.readings[0].x == pytest.approx((plot.left + plot.right) / 2, abs=1)


def test_ticks_label_whole_years_and_millimetres_inside_the_plot() -> None:
    plot = thickness_plot(READINGS, required_mm=10.0, rate_mm_per_year=0.5, width=800)
    assert plot is not None
    assert plot.width == 800 and plot.right == 800 - MARGIN[1]
    years = [int(t.label) for t in plot.x_ticks]
    assert years == sorted(years) and years[0] == 2017
    assert all(plot.left <= t.at <= plot.right for t in plot.x_ticks)
    assert all(plot.top - 0.01 <= t.at <= plot.bottom + 0.01 for t in plot.y_ticks)
    assert len(plot.y_ticks) >= 3
