"""Corrosion rates, remaining life and next inspection date (SPEC §6, after API 510/570).

Rules and the choices SPEC §6 leaves open:

* Readings are sorted by date; several readings on one date count as one, the thinnest,
  since the governing value at a date is the minimum measured thickness.
* A year is 365.25 days. An interval of zero (or negative) length gives no rate.
* Long-term rate LT = (t_initial - t_actual) / years(start -> last reading). The start is
  the install date with t_initial = nominal thickness when both are known (the wall is
  assumed nominal when new); otherwise it is the first reading, with t_initial = that
  reading's thickness. Pairing the first reading's *date* with the *nominal* thickness would
  charge all wall loss since installation to a shorter period and overstate the rate; API
  510/570 define t_initial as the thickness at the same location at the start of the period.
* Short-term rate ST = (t_previous - t_actual) / years(last two readings).
* Governing rate = the larger of LT and ST among those computable; it is reported as computed,
  so it may be negative when the wall reads thicker than before (measurement scatter).
* Remaining life = (t_actual - t_required) / governing rate. It is 0 when t_actual <=
  t_required, whatever the rate (the wall is already at its limit). Otherwise it is null when
  there is no reading, no required thickness, no rate, or a rate <= 0.
* Next inspection due = last inspection date + min(remaining life / 2, 10 years). When the
  remaining life is null, the 10-year cap applies: it is the longest interval API 510/570
  allow whatever the corrosion data, and a null due date would drop the asset from every
  "due soon" list. Null only when there is no last inspection date at all.
* Intervals become days by flooring (years x 365.25) so the interval never exceeds the limit.
* The last inspection date is the later of the one given and the newest reading's date.
* Output rounding: rates to 4 decimals (mm/year), remaining life to 2 decimals (years).
  Computations use unrounded values.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass

DAYS_PER_YEAR = 365.25
MAX_INSPECTION_INTERVAL_YEARS = 10.0
RATE_DECIMALS = 4
LIFE_DECIMALS = 2


@dataclass(frozen=True)
class ThicknessReading:
    """A wall-thickness measurement (an inspection's ``min_measured_thickness_mm``)."""

    date: datetime.date
    thickness_mm: float


@dataclass(frozen=True)
class CorrosionResult:
    """Computed corrosion fields of an asset; ``None`` where the data does not allow one."""

    last_inspection_date: datetime.date | None
    long_term_rate: float | None
    short_term_rate: float | None
    corrosion_rate_mm_per_year: float | None
    remaining_life_years: float | None
    next_inspection_due: datetime.date | None


def validate_reading(thickness_mm: float, nominal_thickness_mm: float | None) -> None:
    """Raise ValueError when a thickness reading is impossible for the asset.

    A reading must be a finite number, not below zero and, when the nominal thickness is
    known, not above it (a wall does not grow; such a reading is a typo or a wrong unit).
    A reading equal to zero or to the nominal thickness is accepted.
    """
    if not math.isfinite(thickness_mm):
        raise ValueError(f"thickness reading must be a finite number, got {thickness_mm!r}")
    if thickness_mm < 0:
        raise ValueError(f"thickness reading must not be below zero, got {thickness_mm} mm")
    if nominal_thickness_mm is not None and thickness_mm > nominal_thickness_mm:
        raise ValueError(
            f"thickness reading {thickness_mm} mm is above the nominal thickness "
            f"{nominal_thickness_mm} mm"
        )


def _collapse(readings: Sequence[ThicknessReading]) -> list[ThicknessReading]:
    thinnest: dict[datetime.date, float] = {}
    for r in readings:
        current = thinnest.get(r.date)
        if current is None or r.thickness_mm < current:
            thinnest[r.date] = r.thickness_mm
    return [ThicknessReading(d, thinnest[d]) for d in sorted(thinnest)]


def _rate(start: ThicknessReading, end: ThicknessReading) -> float | None:
    days = (end.date - start.date).days
    if days <= 0:
        return None
    return (start.thickness_mm - end.thickness_mm) / (days / DAYS_PER_YEAR)


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    # + 0.0 turns a rounded -0.0 into 0.0, which JSON clients would otherwise show as "-0".
    return round(value, digits) + 0.0


def add_years(start: datetime.date, years: float) -> datetime.date:
    """``start`` plus ``years`` of 365.25 days, floored to whole days."""
    return start + datetime.timedelta(days=math.floor(years * DAYS_PER_YEAR))


def assess_corrosion(
    *,
    nominal_thickness_mm: float | None,
    required_thickness_mm: float | None,
    install_date: datetime.date | None,
    readings: Sequence[ThicknessReading],
    last_inspection_date: datetime.date | None = None,
) -> CorrosionResult:
    """Compute an asset's corrosion fields from its thickness history (rules: module doc)."""
    points = _collapse(readings)

    last_seen = last_inspection_date
    if points and (last_seen is None or points[-1].date > last_seen):
        last_seen = points[-1].date

    long_term: float | None = None
    short_term: float | None = None
    t_actual: float | None = None
    if points:
        latest = points[-1]
        t_actual = latest.thickness_mm
        if install_date is not None and nominal_thickness_mm is not None:
            start = ThicknessReading(install_date, nominal_thickness_mm)
        else:
            start = points[0]
        long_term = _rate(start, latest)
        if len(points) >= 2:
            short_term = _rate(points[-2], latest)

    available = [r for r in (long_term, short_term) if r is not None]
    governing = max(available) if available else None

    remaining: float | None = None
    if t_actual is not None and required_thickness_mm is not None:
        if t_actual <= required_thickness_mm:
            remaining = 0.0
        elif governing is not None and governing > 0:
            remaining = (t_actual - required_thickness_mm) / governing

    next_due: datetime.date | None = None
    if last_seen is not None:
        interval = MAX_INSPECTION_INTERVAL_YEARS
        if remaining is not None:
            interval = min(remaining / 2, MAX_INSPECTION_INTERVAL_YEARS)
        next_due = add_years(last_seen, interval)

    return CorrosionResult(
        last_inspection_date=last_seen,
        long_term_rate=_round(long_term, RATE_DECIMALS),
        short_term_rate=_round(short_term, RATE_DECIMALS),
        corrosion_rate_mm_per_year=_round(governing, RATE_DECIMALS),
        remaining_life_years=_round(remaining, LIFE_DECIMALS),
        next_inspection_due=next_due,
    )
