"""RBI 5x5 risk matrix: score and ranking from probability and consequence (SPEC §6)."""

from __future__ import annotations

from enum import StrEnum


# Ascending, so a ranking's position orders assets by risk.
class RiskRanking(StrEnum):
    """A risk assessment's computed `risk_ranking`, lowest first; an asset's is its newest
    assessment's (SPEC §6)."""

    LOW = "low"
    MEDIUM = "medium"
    MEDIUM_HIGH = "medium_high"
    HIGH = "high"


# The tuple came first; kept, derived, for code that iterates plain sequences.
RISK_RANKINGS: tuple[RiskRanking, ...] = tuple(RiskRanking)

# SPEC §6 matrix written as printed there: rows P = 5 (top) .. 1, columns C = 1..5.
# Looked up rather than derived from P x C because the matrix is not a function of the score
# (P=5,C=1 and P=1,C=5 both score 5 but rank medium and medium_high). Kept as the SPEC's text
# so it reads against it cell by cell; turned into members at import, so a typo cannot load.
_MATRIX_TOP_DOWN: tuple[tuple[RiskRanking, ...], ...] = tuple(
    tuple(RiskRanking(cell) for cell in row)
    for row in (
        ("medium", "medium_high", "high", "high", "high"),  # P = 5
        ("medium", "medium", "medium_high", "high", "high"),  # P = 4
        ("low", "medium", "medium", "medium_high", "high"),  # P = 3
        ("low", "low", "medium", "medium", "medium_high"),  # P = 2
        ("low", "low", "medium", "medium", "medium_high"),  # P = 1
    )
)


def _check(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"{name} must be an integer from 1 to 5, got {value!r}")


def risk_score(probability: int, consequence: int) -> int:
    """P x C (1..25). Raises ValueError outside 1..5."""
    _check("probability_of_failure", probability)
    _check("consequence_of_failure", consequence)
    return probability * consequence


def risk_ranking(probability: int, consequence: int) -> RiskRanking:
    """``low`` | ``medium`` | ``medium_high`` | ``high`` per the SPEC §6 matrix.

    Raises ValueError outside 1..5.
    """
    _check("probability_of_failure", probability)
    _check("consequence_of_failure", consequence)
    return _MATRIX_TOP_DOWN[5 - probability][consequence - 1]
