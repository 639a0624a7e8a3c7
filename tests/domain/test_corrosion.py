"""SPEC §6 corrosion rates, remaining life and next inspection due (after API 510/570).

Dates are chosen 4 years (1461 days = 4 x 365.25) apart, so the expected rates below are
exact hand calculations. Intervals become days by flooring (years x 365.25).
"""

import datetime
import math

import pytest

from reliatic_appliance.domain.corrosion import (
    CorrosionResult,
    ThicknessReading,
    add_years,
    assess_corrosion,
    validate_reading,
)

D = datetime.date
R = ThicknessReading
INSTALL = D(2010, 1, 1)  # 2014-01-01, 2018-01-01, 2022-01-01 are each 1461 days later


def result(
    last: datetime.date | None,
    lt: float | None,
    st: float | None,
    rate: float | None,
    life: float | None,
    due: datetime.date | None,
) -> CorrosionResult:
    return CorrosionResult(
        last_inspection_date=last,
        long_term_rate=lt,
        short_term_rate=st,
        corrosion_rate_mm_per_year=rate,
        remaining_life_years=life,
        next_inspection_due=due,
    )


CASES = [
    pytest.param(
        {"nominal": 12.0, "required": 6.0, "install": INSTALL, "readings": []},
        result(None, None, None, None, None, None),
        id="no-readings-no-inspection-all-null",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [],
            "last": D(2022, 1, 1),
        },
        # Visual inspection only: no rate, no life, the 10-year cap (3652 days).
        result(D(2022, 1, 1), None, None, None, None, D(2032, 1, 1)),
        id="no-readings-last-inspection-10-year-cap",
    ),
    pytest.param(
        {"nominal": 12.0, "required": 6.0, "install": INSTALL, "readings": [R(D(2022, 1, 1), 9.0)]},
        # LT = (12 - 9) / 12 y = 0.25; life = 3 / 0.25 = 12 y; due + 6 y = 2191 days.
        result(D(2022, 1, 1), 0.25, None, 0.25, 12.0, D(2028, 1, 1)),
        id="one-reading-with-install-date-LT-only",
    ),
    pytest.param(
        {"nominal": 12.0, "required": 6.0, "install": None, "readings": [R(D(2022, 1, 1), 9.0)]},
        # The only start point is the reading itself: zero-length interval, no rate.
        result(D(2022, 1, 1), None, None, None, None, D(2032, 1, 1)),
        id="one-reading-without-install-date-no-rate",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2014, 1, 1), 10.0), R(D(2022, 1, 1), 9.6)],
        },
        # LT = 2.4 / 12 = 0.2; ST = 0.4 / 8 = 0.05; life = 3.6 / 0.2 = 18; due + 9 y.
        result(D(2022, 1, 1), 0.2, 0.05, 0.2, 18.0, D(2031, 1, 1)),
        id="LT-governs",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2018, 1, 1), 10.4), R(D(2022, 1, 1), 9.0)],
        },
        # LT = 3 / 12 = 0.25; ST = 1.4 / 4 = 0.35; life = 3 / 0.35 = 8.5714;
        # due + 4.2857 y = 1565.36 -> 1565 days.
        result(D(2022, 1, 1), 0.25, 0.35, 0.35, 8.57, D(2026, 4, 15)),
        id="ST-governs",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2018, 1, 1), 9.0), R(D(2022, 1, 1), 9.4)],
        },
        # ST negative (wall read thicker), LT = 2.6 / 12 = 0.21667 still governs;
        # life = 3.4 / 0.21667 = 15.69; due + 7.846 y = 2865.8 -> 2865 days.
        result(D(2022, 1, 1), 0.2167, -0.1, 0.2167, 15.69, D(2029, 11, 5)),
        id="ST-negative-LT-governs",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": None,
            "readings": [R(D(2018, 1, 1), 9.0), R(D(2022, 1, 1), 9.4)],
        },
        # Thickness increased and no install date: both rates -0.1, life null, 10-year cap.
        result(D(2022, 1, 1), -0.1, -0.1, -0.1, None, D(2032, 1, 1)),
        id="rate-negative-life-null-10-year-cap",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": None,
            "readings": [R(D(2018, 1, 1), 9.0), R(D(2022, 1, 1), 9.0)],
        },
        result(D(2022, 1, 1), 0.0, 0.0, 0.0, None, D(2032, 1, 1)),
        id="rate-zero-life-null-10-year-cap",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2018, 1, 1), 8.0), R(D(2022, 1, 1), 6.0)],
        },
        # t_actual == t_required: life 0, due at once (the last inspection date).
        result(D(2022, 1, 1), 0.5, 0.5, 0.5, 0.0, D(2022, 1, 1)),
        id="t-actual-equals-required-life-0",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2018, 1, 1), 6.0), R(D(2022, 1, 1), 5.2)],
        },
        result(D(2022, 1, 1), 0.5667, 0.2, 0.5667, 0.0, D(2022, 1, 1)),
        id="t-actual-below-required-life-0",
    ),
    pytest.param(
        {"nominal": 12.0, "required": 6.0, "install": None, "readings": [R(D(2022, 1, 1), 5.5)]},
        # Below required with no rate at all: still 0, not null.
        result(D(2022, 1, 1), None, None, None, 0.0, D(2022, 1, 1)),
        id="below-required-without-rate-life-0",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": None,
            "readings": [R(D(2018, 1, 1), 5.8), R(D(2022, 1, 1), 5.9)],
        },
        result(D(2022, 1, 1), -0.025, -0.025, -0.025, 0.0, D(2022, 1, 1)),
        id="below-required-with-negative-rate-life-0",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2022, 1, 1), 11.76)],
        },
        # LT = 0.24 / 12 = 0.02; life = 5.76 / 0.02 = 288 y; half is 144 -> capped at 10 y.
        result(D(2022, 1, 1), 0.02, None, 0.02, 288.0, D(2032, 1, 1)),
        id="next-due-capped-at-10-years",
    ),
    pytest.param(
        {"nominal": 12.0, "required": 4.0, "install": INSTALL, "readings": [R(D(2022, 1, 1), 9.0)]},
        # life 20 -> half exactly 10 y = 3652.5 -> 3652 days.
        result(D(2022, 1, 1), 0.25, None, 0.25, 20.0, D(2032, 1, 1)),
        id="half-life-exactly-10-years",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 4.25,
            "install": INSTALL,
            "readings": [R(D(2022, 1, 1), 9.0)],
        },
        # life 19 -> 9.5 y = 3469.875 days, floored to 3469 (rounding would give 2031-07-03).
        result(D(2022, 1, 1), 0.25, None, 0.25, 19.0, D(2031, 7, 2)),
        id="half-life-9.5-years-floored-to-days",
    ),
    pytest.param(
        {
            "nominal": None,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2014, 1, 1), 10.0), R(D(2022, 1, 1), 9.6)],
        },
        # No nominal: LT starts at the first reading (0.4 / 8 = 0.05), same as ST here;
        # life 72 y -> capped.
        result(D(2022, 1, 1), 0.05, 0.05, 0.05, 72.0, D(2032, 1, 1)),
        id="missing-nominal-LT-from-first-reading",
    ),
    pytest.param(
        {"nominal": None, "required": 6.0, "install": INSTALL, "readings": [R(D(2022, 1, 1), 9.0)]},
        result(D(2022, 1, 1), None, None, None, None, D(2032, 1, 1)),
        id="missing-nominal-one-reading-no-rate",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": None,
            "readings": [R(D(2014, 1, 1), 10.0), R(D(2022, 1, 1), 9.6)],
        },
        # No install date: LT from the first reading's date *and* thickness, not nominal.
        result(D(2022, 1, 1), 0.05, 0.05, 0.05, 72.0, D(2032, 1, 1)),
        id="missing-install-date-LT-from-first-reading",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": None,
            "install": INSTALL,
            "readings": [R(D(2018, 1, 1), 10.4), R(D(2022, 1, 1), 9.0)],
        },
        # Rates still computed; no required thickness -> no life -> 10-year cap.
        result(D(2022, 1, 1), 0.25, 0.35, 0.35, None, D(2032, 1, 1)),
        id="missing-required-life-null",
    ),
    pytest.param(
        {
            "nominal": None,
            "required": None,
            "install": None,
            "readings": [R(D(2018, 1, 1), 10.4), R(D(2022, 1, 1), 9.0)],
        },
        result(D(2022, 1, 1), 0.35, 0.35, 0.35, None, D(2032, 1, 1)),
        id="missing-nominal-required-and-install",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2022, 1, 1), 9.0), R(D(2018, 1, 1), 10.0), R(D(2022, 1, 1), 8.8)],
        },
        # Unsorted, two readings on 2022-01-01: the thinner (8.8) counts.
        # LT = 3.2 / 12 = 0.26667; ST = 1.2 / 4 = 0.3; life = 2.8 / 0.3 = 9.33;
        # due + 4.6667 y = 1704.5 -> 1704 days.
        result(D(2022, 1, 1), 0.2667, 0.3, 0.3, 9.33, D(2026, 9, 1)),
        id="unsorted-and-same-date-readings-use-minimum",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": None,
            "readings": [R(D(2022, 1, 1), 9.0), R(D(2022, 1, 1), 8.8)],
        },
        # Two readings, one date: a single point, so no interval and no rate.
        result(D(2022, 1, 1), None, None, None, None, D(2032, 1, 1)),
        id="same-date-readings-zero-length-no-rate",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": D(2022, 1, 1),
            "readings": [R(D(2022, 1, 1), 11.8)],
        },
        # Reading on the install date: zero-length LT interval.
        result(D(2022, 1, 1), None, None, None, None, D(2032, 1, 1)),
        id="reading-on-install-date-no-rate",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2022, 1, 1), 9.0)],
            "last": D(2024, 1, 1),
        },
        # A later inspection without a thickness reading moves the base date: + 6 y.
        result(D(2024, 1, 1), 0.25, None, 0.25, 12.0, D(2029, 12, 31)),
        id="later-inspection-without-reading-is-the-base",
    ),
    pytest.param(
        {
            "nominal": 12.0,
            "required": 6.0,
            "install": INSTALL,
            "readings": [R(D(2022, 1, 1), 9.0)],
            "last": D(2020, 6, 1),
        },
        result(D(2022, 1, 1), 0.25, None, 0.25, 12.0, D(2028, 1, 1)),
        id="newer-reading-beats-older-last-inspection",
    ),
]


@pytest.mark.parametrize(("given", "expected"), CASES)
def test_assess_corrosion(given: dict[str, object], expected: CorrosionResult) -> None:
    got = assess_corrosion(
        nominal_thickness_mm=given["nominal"],  # type: ignore[arg-type]
        required_thickness_mm=given["required"],  # type: ignore[arg-type]
        install_date=given["install"],  # type: ignore[arg-type]
        readings=given["readings"],  # type: ignore[arg-type]
        last_inspection_date=given.get("last"),  # type: ignore[arg-type]
    )
    assert got == expected


def test_no_negative_zero() -> None:
    # A rate of -0.0000025 mm/y rounds to 0.0, and must not serialize as -0.0.
    got = assess_corrosion(
        nominal_thickness_mm=12.0,
        required_thickness_mm=6.0,
        install_date=None,
        readings=[R(D(2018, 1, 1), 9.0), R(D(2022, 1, 1), 9.00001)],
    )
    assert got.corrosion_rate_mm_per_year == 0.0
    assert math.copysign(1.0, got.corrosion_rate_mm_per_year) == 1.0


def test_readings_input_not_mutated() -> None:
    readings = [R(D(2022, 1, 1), 9.0), R(D(2018, 1, 1), 10.0)]
    assess_corrosion(
        nominal_thickness_mm=12.0,
        required_thickness_mm=6.0,
        install_date=INSTALL,
        readings=readings,
    )
    assert readings == [R(D(2022, 1, 1), 9.0), R(D(2018, 1, 1), 10.0)]


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        pytest.param(D(2022, 1, 1), 0.0, D(2022, 1, 1), id="zero"),
        pytest.param(D(2022, 1, 1), 10.0, D(2032, 1, 1), id="10y-3652-days"),
        pytest.param(D(2020, 1, 1), 10.0, D(2029, 12, 31), id="10y-3652-days-3-leap-days"),
        pytest.param(D(2022, 1, 1), 1.0, D(2023, 1, 1), id="1y-365-days"),
        pytest.param(D(2022, 1, 1), 0.5, D(2022, 7, 2), id="half-year-182-days"),
    ],
)
def test_add_years(start: datetime.date, years: float, expected: datetime.date) -> None:
    assert add_years(start, years) == expected


@pytest.mark.parametrize(
    ("thickness", "nominal"),
    [
        pytest.param(0.0, 12.0, id="zero"),
        pytest.param(5.0, 12.0, id="between"),
        pytest.param(12.0, 12.0, id="equal-to-nominal"),
        pytest.param(50.0, None, id="no-nominal-no-upper-bound"),
    ],
)
def test_validate_reading_accepts(thickness: float, nominal: float | None) -> None:
    validate_reading(thickness, nominal)


@pytest.mark.parametrize(
    ("thickness", "nominal", "message"),
    [
        pytest.param(-0.1, 12.0, "below zero", id="below-zero"),
        pytest.param(-0.1, None, "below zero", id="below-zero-no-nominal"),
        pytest.param(12.01, 12.0, "above the nominal thickness", id="above-nominal"),
        pytest.param(math.nan, 12.0, "finite", id="nan"),
        pytest.param(math.inf, None, "finite", id="inf"),
    ],
)
def test_validate_reading_rejects(thickness: float, nominal: float | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_reading(thickness, nominal)
