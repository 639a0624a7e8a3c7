"""Inspection effectiveness A..E from inspection type and coverage (SPEC §6).

After API RP 581's general-thinning effectiveness tables, reduced to the SPEC §6 grid.
"""

from __future__ import annotations

import math

INSPECTION_TYPES: tuple[str, ...] = (
    "internal_visual",
    "ut_scanning",
    "profile_radiography",
    "ut_spot",
    "external_visual",
    "pressure_test",
    "other",
)

EFFECTIVENESS_LEVELS: tuple[str, ...] = ("A", "B", "C", "D", "E")


def inspection_effectiveness(inspection_type: str, coverage_percent: float | None) -> str:
    """Return the effectiveness category ``"A"`` (best) .. ``"E"`` (none).

    A missing coverage counts as 0 % (SPEC §6). Band edges belong to the better category:
    ``c == 50`` is A, ``c == 20`` is B, ``c == 2`` is C.

    Raises ValueError for an unknown inspection type, or a coverage that is not a finite
    number within 0..100 (the API validates it first; a bad value here is a programming error).
    """
    if inspection_type not in INSPECTION_TYPES:
        raise ValueError(f"unknown inspection_type {inspection_type!r}")
    c = 0.0 if coverage_percent is None else float(coverage_percent)
    if not math.isfinite(c) or not 0.0 <= c <= 100.0:
        raise ValueError(f"coverage_percent must be within 0..100, got {coverage_percent!r}")

    if inspection_type == "internal_visual":
        # Intrusive with thickness checks: never worse than C, whatever the coverage.
        if c >= 50:
            return "A"
        return "B" if c >= 20 else "C"
    if inspection_type in ("ut_scanning", "profile_radiography"):
        if c >= 50:
            return "A"
        if c >= 20:
            return "B"
        return "C" if c >= 2 else "D"
    if inspection_type == "ut_spot":
        # Spot readings cannot find localised thinning, so coverage caps out at C.
        return "C" if c >= 2 else "D"
    if inspection_type == "external_visual":
        return "D"
    # pressure_test and other tell nothing about wall loss.
    return "E"
