"""SPEC §6 FMEA: RPN, priority thresholds and the AIAG-VDA action-priority table.

The AP table below is the SPEC's, transcribed row for row; every cell is tested at every
corner of its severity, occurrence and detection bands.
"""

from itertools import product

import pytest

from reliatic_appliance.domain.fmea import (
    ACTION_PRIORITIES,
    FMEA_PRIORITIES,
    action_priority,
    fmea_priority,
    rpn,
)

# ---------------------------------------------------------------------------- RPN


@pytest.mark.parametrize(
    ("s", "o", "d", "expected"),
    [
        pytest.param(1, 1, 1, 1, id="min"),
        pytest.param(10, 10, 10, 1000, id="max"),
        pytest.param(2, 3, 4, 24, id="2x3x4"),
        pytest.param(9, 5, 7, 315, id="9x5x7"),
        pytest.param(10, 1, 1, 10, id="10x1x1"),
    ],
)
def test_rpn(s: int, o: int, d: int, expected: int) -> None:
    assert rpn(s, o, d) == expected


BAD_SCALE_ARGS = [
    pytest.param(0, 5, 5, id="S0"),
    pytest.param(11, 5, 5, id="S11"),
    pytest.param(5, 0, 5, id="O0"),
    pytest.param(5, 11, 5, id="O11"),
    pytest.param(5, 5, 0, id="D0"),
    pytest.param(5, 5, 11, id="D11"),
    pytest.param(-3, 5, 5, id="S-negative"),
    pytest.param(True, 5, 5, id="S-bool"),
    pytest.param(5, 5.0, 5, id="O-float"),
]


@pytest.mark.parametrize(("s", "o", "d"), BAD_SCALE_ARGS)
def test_rpn_rejects_out_of_scale(s: int, o: int, d: int) -> None:
    with pytest.raises(ValueError):
        rpn(s, o, d)


@pytest.mark.parametrize(("s", "o", "d"), BAD_SCALE_ARGS)
def test_action_priority_rejects_out_of_scale(s: int, o: int, d: int) -> None:
    with pytest.raises(ValueError):
        action_priority(s, o, d)


# ---------------------------------------------------------------------------- priority


def test_priority_constants() -> None:
    assert FMEA_PRIORITIES == ("low", "medium", "high", "critical")
    assert ACTION_PRIORITIES == ("L", "M", "H")


@pytest.mark.parametrize(
    ("severity", "rpn_value", "expected"),
    [
        # critical: S >= 9 whatever the RPN, or RPN >= 300
        pytest.param(9, 9, "critical", id="S9-rpn9-critical-by-severity"),
        pytest.param(10, 10, "critical", id="S10-rpn10-critical-by-severity"),
        pytest.param(9, 1, "critical", id="S9-rpn1-critical-by-severity"),
        pytest.param(8, 300, "critical", id="S8-rpn300-critical-edge"),
        pytest.param(5, 300, "critical", id="S5-rpn300-critical-edge"),
        pytest.param(8, 800, "critical", id="S8-rpn800-critical"),
        pytest.param(10, 1000, "critical", id="S10-rpn1000-critical"),
        # high: RPN 200..299
        pytest.param(8, 299, "high", id="S8-rpn299-high"),
        pytest.param(5, 250, "high", id="S5-rpn250-high"),
        pytest.param(8, 200, "high", id="S8-rpn200-high-edge"),
        # medium: RPN 100..199
        pytest.param(8, 199, "medium", id="S8-rpn199-medium"),
        pytest.param(4, 100, "medium", id="S4-rpn100-medium-edge"),
        # low: RPN < 100
        pytest.param(8, 99, "low", id="S8-rpn99-low"),
        pytest.param(1, 1, "low", id="S1-rpn1-low"),
        pytest.param(8, 8, "low", id="S8-rpn8-low"),
    ],
)
def test_fmea_priority(severity: int, rpn_value: int, expected: str) -> None:
    assert fmea_priority(severity, rpn_value) == expected


@pytest.mark.parametrize(
    ("severity", "rpn_value"),
    [
        pytest.param(0, 100, id="S0"),
        pytest.param(11, 100, id="S11"),
        pytest.param(5, 0, id="rpn0"),
        pytest.param(5, 1001, id="rpn1001"),
        pytest.param(5, True, id="rpn-bool"),
    ],
)
def test_fmea_priority_rejects_bad_input(severity: int, rpn_value: int) -> None:
    with pytest.raises(ValueError):
        fmea_priority(severity, rpn_value)


# ---------------------------------------------------------------------------- action priority

D_BANDS = ((7, 10), (5, 6), (2, 4), (1, 1))  # the SPEC table's column order

# (S band, O band, D 7-10, D 5-6, D 2-4, D 1), as printed in SPEC §6.
AP_TABLE = (
    ((9, 10), (8, 10), "H", "H", "H", "H"),
    ((9, 10), (6, 7), "H", "H", "H", "H"),
    ((9, 10), (4, 5), "H", "H", "H", "M"),
    ((9, 10), (2, 3), "H", "M", "L", "L"),
    ((7, 8), (8, 10), "H", "H", "H", "H"),
    ((7, 8), (6, 7), "H", "H", "H", "M"),
    ((7, 8), (4, 5), "H", "M", "M", "M"),
    ((7, 8), (2, 3), "M", "M", "L", "L"),
    ((4, 6), (8, 10), "H", "H", "M", "M"),
    ((4, 6), (6, 7), "M", "M", "M", "L"),
    ((4, 6), (4, 5), "M", "L", "L", "L"),
    ((2, 3), (8, 10), "M", "M", "L", "L"),
)

# The "any other combination" row (L throughout), as the SPEC enumerates it:
# O = 1, S = 1, S 4-6 with O 2-3, S 2-3 with O <= 7.
AP_OTHER = (
    ("O=1", (1, 10), (1, 1)),
    ("S=1", (1, 1), (1, 10)),
    ("S4-6,O2-3", (4, 6), (2, 3)),
    ("S2-3,O<=7", (2, 3), (1, 7)),
)


def _edges(band: tuple[int, int]) -> tuple[int, ...]:
    low, high = band
    return (low,) if low == high else (low, high)


def _band_id(band: tuple[int, int]) -> str:
    low, high = band
    return str(low) if low == high else f"{low}-{high}"


def _table_cases() -> list[object]:
    cases: list[object] = []
    for s_band, o_band, *cells in AP_TABLE:
        for d_band, expected in zip(D_BANDS, cells, strict=True):
            cell = f"S{_band_id(s_band)}/O{_band_id(o_band)}/D{_band_id(d_band)}"
            for s, o, d in product(_edges(s_band), _edges(o_band), _edges(d_band)):
                cases.append(pytest.param(s, o, d, expected, id=f"{cell}:s{s},o{o},d{d}"))
    return cases


def _other_cases() -> list[object]:
    cases: list[object] = []
    seen = set()
    for name, s_band, o_band in AP_OTHER:
        # Every value of the row's own bands (they are small), every detection band edge.
        for s, o, d in product(
            range(s_band[0], s_band[1] + 1),
            range(o_band[0], o_band[1] + 1),
            (1, 2, 4, 5, 6, 7, 10),
        ):
            if (s, o, d) not in seen:
                seen.add((s, o, d))
                cases.append(pytest.param(s, o, d, id=f"other[{name}]:s{s},o{o},d{d}"))
    return cases


@pytest.mark.parametrize(("s", "o", "d", "expected"), _table_cases())
def test_action_priority_table_cell(s: int, o: int, d: int, expected: str) -> None:
    assert action_priority(s, o, d) == expected


@pytest.mark.parametrize(("s", "o", "d"), _other_cases())
def test_action_priority_any_other_combination_is_low(s: int, o: int, d: int) -> None:
    assert action_priority(s, o, d) == "L"


def _spec_lookup(s: int, o: int, d: int) -> str:
    """An independent reading of the SPEC table, to prove the table has no holes."""
    column = next(i for i, (lo, hi) in enumerate(D_BANDS) if lo <= d <= hi)
    for (s_lo, s_hi), (o_lo, o_hi), *cells in AP_TABLE:
        if s_lo <= s <= s_hi and o_lo <= o <= o_hi:
            return cells[column]
    for _, (s_lo, s_hi), (o_lo, o_hi) in AP_OTHER:
        if s_lo <= s <= s_hi and o_lo <= o <= o_hi:
            return "L"
    raise AssertionError(f"SPEC table does not cover S={s} O={o}")


@pytest.mark.parametrize("s", [pytest.param(s, id=f"S{s}") for s in range(1, 11)])
def test_action_priority_all_1000_combinations(s: int) -> None:
    for o, d in product(range(1, 11), range(1, 11)):
        assert action_priority(s, o, d) == _spec_lookup(s, o, d), (s, o, d)


@pytest.mark.parametrize(
    ("a", "b", "ap_a", "ap_b"),
    [
        # Same RPN (90), different AP: the AIAG-VDA table weighs S, then O, then D.
        pytest.param((9, 5, 2), (3, 10, 3), "H", "L", id="rpn90-S9O5D2-vs-S3O10D3"),
        pytest.param((10, 9, 1), (6, 5, 3), "H", "L", id="rpn90-S10O9D1-vs-S6O5D3"),
        pytest.param((9, 5, 2), (5, 6, 3), "H", "M", id="rpn90-S9O5D2-vs-S5O6D3"),
        pytest.param((5, 6, 3), (3, 3, 10), "M", "L", id="rpn90-S5O6D3-vs-S3O3D10"),
    ],
)
def test_action_priority_is_not_rpn(
    a: tuple[int, int, int], b: tuple[int, int, int], ap_a: str, ap_b: str
) -> None:
    assert rpn(*a) == rpn(*b) == 90
    assert action_priority(*a) == ap_a
    assert action_priority(*b) == ap_b
