"""SPEC §6 inspection effectiveness: every cell of the table, at its band edges."""

import math

import pytest

from reliatic_appliance.domain.effectiveness import INSPECTION_TYPES, inspection_effectiveness


def test_inspection_types_in_spec_order() -> None:
    assert INSPECTION_TYPES == (
        "internal_visual",
        "ut_scanning",
        "profile_radiography",
        "ut_spot",
        "external_visual",
        "pressure_test",
        "other",
    )


@pytest.mark.parametrize(
    ("inspection_type", "coverage", "expected"),
    [
        # internal_visual: A c>=50 | B 20<=c<50 | C c<20 | D - | E -
        pytest.param("internal_visual", 100, "A", id="internal_visual-A-c100"),
        pytest.param("internal_visual", 50, "A", id="internal_visual-A-c50-edge"),
        pytest.param("internal_visual", 49.99, "B", id="internal_visual-B-c49.99"),
        pytest.param("internal_visual", 35, "B", id="internal_visual-B-c35"),
        pytest.param("internal_visual", 20, "B", id="internal_visual-B-c20-edge"),
        pytest.param("internal_visual", 19.99, "C", id="internal_visual-C-c19.99"),
        pytest.param("internal_visual", 2, "C", id="internal_visual-C-c2"),
        pytest.param("internal_visual", 1.99, "C", id="internal_visual-C-c1.99"),
        pytest.param("internal_visual", 0, "C", id="internal_visual-C-c0"),
        pytest.param("internal_visual", None, "C", id="internal_visual-C-cNone"),
        # ut_scanning: A c>=50 | B 20<=c<50 | C 2<=c<20 | D c<2 | E -
        pytest.param("ut_scanning", 100, "A", id="ut_scanning-A-c100"),
        pytest.param("ut_scanning", 50, "A", id="ut_scanning-A-c50-edge"),
        pytest.param("ut_scanning", 49.99, "B", id="ut_scanning-B-c49.99"),
        pytest.param("ut_scanning", 20, "B", id="ut_scanning-B-c20-edge"),
        pytest.param("ut_scanning", 19.99, "C", id="ut_scanning-C-c19.99"),
        pytest.param("ut_scanning", 2, "C", id="ut_scanning-C-c2-edge"),
        pytest.param("ut_scanning", 1.99, "D", id="ut_scanning-D-c1.99"),
        pytest.param("ut_scanning", 0, "D", id="ut_scanning-D-c0"),
        pytest.param("ut_scanning", None, "D", id="ut_scanning-D-cNone"),
        # profile_radiography: same row as ut_scanning
        pytest.param("profile_radiography", 100, "A", id="profile_radiography-A-c100"),
        pytest.param("profile_radiography", 50, "A", id="profile_radiography-A-c50-edge"),
        pytest.param("profile_radiography", 49.99, "B", id="profile_radiography-B-c49.99"),
        pytest.param("profile_radiography", 20, "B", id="profile_radiography-B-c20-edge"),
        pytest.param("profile_radiography", 19.99, "C", id="profile_radiography-C-c19.99"),
        pytest.param("profile_radiography", 2, "C", id="profile_radiography-C-c2-edge"),
        pytest.param("profile_radiography", 1.99, "D", id="profile_radiography-D-c1.99"),
        pytest.param("profile_radiography", 0, "D", id="profile_radiography-D-c0"),
        pytest.param("profile_radiography", None, "D", id="profile_radiography-D-cNone"),
        # ut_spot: A - | B - | C c>=2 | D c<2 | E -
        pytest.param("ut_spot", 100, "C", id="ut_spot-C-c100"),
        pytest.param("ut_spot", 50, "C", id="ut_spot-C-c50"),
        pytest.param("ut_spot", 20, "C", id="ut_spot-C-c20"),
        pytest.param("ut_spot", 2, "C", id="ut_spot-C-c2-edge"),
        pytest.param("ut_spot", 1.99, "D", id="ut_spot-D-c1.99"),
        pytest.param("ut_spot", 0, "D", id="ut_spot-D-c0"),
        pytest.param("ut_spot", None, "D", id="ut_spot-D-cNone"),
        # external_visual: D always
        pytest.param("external_visual", 100, "D", id="external_visual-D-c100"),
        pytest.param("external_visual", 50, "D", id="external_visual-D-c50"),
        pytest.param("external_visual", 20, "D", id="external_visual-D-c20"),
        pytest.param("external_visual", 2, "D", id="external_visual-D-c2"),
        pytest.param("external_visual", 0, "D", id="external_visual-D-c0"),
        pytest.param("external_visual", None, "D", id="external_visual-D-cNone"),
        # pressure_test, other: E always
        pytest.param("pressure_test", 100, "E", id="pressure_test-E-c100"),
        pytest.param("pressure_test", 50, "E", id="pressure_test-E-c50"),
        pytest.param("pressure_test", 2, "E", id="pressure_test-E-c2"),
        pytest.param("pressure_test", 0, "E", id="pressure_test-E-c0"),
        pytest.param("pressure_test", None, "E", id="pressure_test-E-cNone"),
        pytest.param("other", 100, "E", id="other-E-c100"),
        pytest.param("other", 50, "E", id="other-E-c50"),
        pytest.param("other", 2, "E", id="other-E-c2"),
        pytest.param("other", 0, "E", id="other-E-c0"),
        pytest.param("other", None, "E", id="other-E-cNone"),
    ],
)
def test_effectiveness_table(inspection_type: str, coverage: float | None, expected: str) -> None:
    assert inspection_effectiveness(inspection_type, coverage) == expected


@pytest.mark.parametrize(
    ("inspection_type", "coverage"),
    [
        pytest.param("ultrasonic", 50, id="unknown-type"),
        pytest.param("", 50, id="empty-type"),
        pytest.param("UT_SCANNING", 50, id="type-is-case-sensitive"),
        pytest.param("ut_scanning", -0.01, id="coverage-below-0"),
        pytest.param("ut_scanning", 100.01, id="coverage-above-100"),
        pytest.param("ut_scanning", math.nan, id="coverage-nan"),
        pytest.param("ut_scanning", math.inf, id="coverage-inf"),
    ],
)
def test_effectiveness_rejects_bad_input(inspection_type: str, coverage: float) -> None:
    with pytest.raises(ValueError):
        inspection_effectiveness(inspection_type, coverage)
