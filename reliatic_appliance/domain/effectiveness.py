"""Inspection effectiveness A..E from inspection type and coverage (SPEC §6).

After API RP 581's general-thinning effectiveness tables, reduced to the SPEC §6 grid.
"""

from __future__ import annotations

import math
from enum import StrEnum


class InspectionType(StrEnum):
    """An inspection's `inspection_type`: the rows of the SPEC §6 effectiveness table."""

    INTERNAL_VISUAL = "internal_visual"
    UT_SCANNING = "ut_scanning"
    PROFILE_RADIOGRAPHY = "profile_radiography"
    UT_SPOT = "ut_spot"
    EXTERNAL_VISUAL = "external_visual"
    PRESSURE_TEST = "pressure_test"
    OTHER = "other"


class Effectiveness(StrEnum):
    """An inspection's computed `effectiveness`, `A` (best) to `E` (none) (SPEC §6)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


# The tuples came first; kept, derived, for code that iterates plain sequences.
INSPECTION_TYPES: tuple[InspectionType, ...] = tuple(InspectionType)
EFFECTIVENESS_LEVELS: tuple[Effectiveness, ...] = tuple(Effectiveness)


def inspection_effectiveness(inspection_type: str, coverage_percent: float | None) -> Effectiveness:
    """Return the effectiveness category ``A`` (best) .. ``E`` (none).

    A missing coverage counts as 0 % (SPEC §6). Band edges belong to the better category:
    ``c == 50`` is A, ``c == 20`` is B, ``c == 2`` is C.

    Raises ValueError for an unknown inspection type, or a coverage that is not a finite
    number within 0..100 (the API validates it first; a bad value here is a programming error).
    """
    if inspection_type not in INSPECTION_TYPES:
        raise ValueError(f"unknown inspection_type {str(inspection_type)!r}")
    c = 0.0 if coverage_percent is None else float(coverage_percent)
    if not math.isfinite(c) or not 0.0 <= c <= 100.0:
        raise ValueError(f"coverage_percent must be within 0..100, got {coverage_percent!r}")

    if inspection_type == InspectionType.INTERNAL_VISUAL:
        # Intrusive with thickness checks: never worse than C, whatever the coverage.
        if c >= 50:
            return Effectiveness.A
        return Effectiveness.B if c >= 20 else Effectiveness.C
    if inspection_type in (InspectionType.UT_SCANNING, InspectionType.PROFILE_RADIOGRAPHY):
        if c >= 50:
            return Effectiveness.A
        if c >= 20:
            return Effectiveness.B
        return Effectiveness.C if c >= 2 else Effectiveness.D
    if inspection_type == InspectionType.UT_SPOT:
        # Spot readings cannot find localised thinning, so coverage caps out at C.
        return Effectiveness.C if c >= 2 else Effectiveness.D
    if inspection_type == InspectionType.EXTERNAL_VISUAL:
        return Effectiveness.D
    # pressure_test and other tell nothing about wall loss.
    return Effectiveness.E
