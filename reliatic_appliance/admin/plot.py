"""The geometry of an asset's wall-thickness plot (SPEC §10): pure, so it is tested as data.

Readings against time, the required thickness as a horizontal line, and the governing
corrosion rate (domain/corrosion.py) as a line from the newest reading down to where the
wall would reach the required thickness, at most `PROJECTION_YEARS` ahead. The template
draws what `thickness_plot` returns; nothing here knows about HTML.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass

from reliatic_appliance.domain.corrosion import DAYS_PER_YEAR, ThicknessReading

WIDTH = 800
HEIGHT = 300
# Room for the axis labels: left, right, top, bottom.
MARGIN = (56, 16, 16, 36)
# The corrosion-rate line stops here if the wall has not reached its limit by then.
PROJECTION_YEARS = 10.0


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the plot's coordinates
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str  # for a screen reader's <title>: the date and the reading


@dataclass(frozen=True)
class Plot:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    readings: list[Marker]
    reading_line: list[Point]
    required_y: float | None
    required_label: str | None
    rate_line: tuple[Point, Point] | None
    rate_label: str | None
    x_ticks: list[Tick]
    y_ticks: list[Tick]

    @property
    def reading_points(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.reading_line)


def _years(start: datetime.date, end: datetime.date) -> float:
    return (end - start).days / DAYS_PER_YEAR


def _nice_step(span: float, most: int) -> float:
    """The smallest 1-2-5 step that cuts `span` into at most `most` intervals."""
    magnitude = 10.0 ** math.floor(math.log10(span / (most * 10)))
    while True:
        for factor in (1, 2, 5):
            if span / (factor * magnitude) <= most:
                return factor * magnitude
        magnitude *= 10


def thickness_plot(
    readings: Sequence[ThicknessReading],
    *,
    required_mm: float | None,
    rate_mm_per_year: float | None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Plot | None:
    """The plot of `readings` (any order), or None when there is nothing to plot."""
    if not readings:
        return None
    points = sorted(readings, key=lambda r: r.date)
    first, last = points[0].date, points[-1].date

    projection: tuple[datetime.date, float] | None = None
    if rate_mm_per_year is not None and rate_mm_per_year > 0:
        t_last = points[-1].thickness_mm
        years = PROJECTION_YEARS
        if required_mm is not None:
            years = min(max((t_last - required_mm) / rate_mm_per_year, 0.0), PROJECTION_YEARS)
        end = last + datetime.timedelta(days=math.floor(years * DAYS_PER_YEAR))
        projection = (end, t_last - rate_mm_per_year * _years(last, end))

    x_end = max(last, projection[0]) if projection else last
    if x_end <= first:  # one reading, no projection: a year either side
        first, x_end = first - datetime.timedelta(days=365), first + datetime.timedelta(days=365)

    values = [r.thickness_mm for r in points]
    if required_mm is not None:
        values.append(required_mm)
    if projection:
        values.append(projection[1])
    low, high = min(values), max(values)
    pad = max((high - low) * 0.1, 0.5)
    low, high = max(low - pad, 0.0), high + pad

    left, right = MARGIN[0], width - MARGIN[1]
    top, bottom = MARGIN[2], height - MARGIN[3]
    span_days = (x_end - first).days

    def x_of(day: datetime.date) -> float:
        return left + (day - first).days / span_days * (right - left)

    def y_of(mm: float) -> float:
        return bottom - (mm - low) / (high - low) * (bottom - top)

    markers = [
        Marker(x_of(r.date), y_of(r.thickness_mm), f"{r.date.isoformat()}: {r.thickness_mm:g} mm")
        for r in points
    ]
    rate_line = None
    rate_label = None
    if projection:
        rate_line = (
            Point(x_of(last), y_of(points[-1].thickness_mm)),
            Point(x_of(projection[0]), y_of(projection[1])),
        )
        rate_label = f"{rate_mm_per_year:.3g} mm/year"

    step = _nice_step(high - low, 7)
    y_ticks = [
        Tick(y_of(v), f"{v:g}")
        for v in (step * k for k in range(math.ceil(low / step), math.floor(high / step) + 1))
    ]
    year_step = max(1, math.ceil(span_days / DAYS_PER_YEAR / 6))
    x_ticks = [
        Tick(x_of(datetime.date(year, 1, 1)), str(year))
        for year in range(first.year + 1, x_end.year + 1, year_step)
    ]
    return Plot(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        readings=markers,
        reading_line=[Point(m.x, m.y) for m in markers],
        required_y=None if required_mm is None else y_of(required_mm),
        required_label=None if required_mm is None else f"required {required_mm:g} mm",
        rate_line=rate_line,
        rate_label=rate_label,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )
