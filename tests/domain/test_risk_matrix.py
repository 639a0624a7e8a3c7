"""SPEC §6 RBI risk matrix: all 25 cells, with P x C."""

import pytest

from reliatic_appliance.domain.risk_matrix import RISK_RANKINGS, risk_ranking, risk_score


def test_rankings_ascending() -> None:
    assert RISK_RANKINGS == ("low", "medium", "medium_high", "high")


@pytest.mark.parametrize(
    ("p", "c", "score", "ranking"),
    [
        # P = 5: medium | medium_high | high | high | high
        pytest.param(5, 1, 5, "medium", id="P5-C1"),
        pytest.param(5, 2, 10, "medium_high", id="P5-C2"),
        pytest.param(5, 3, 15, "high", id="P5-C3"),
        pytest.param(5, 4, 20, "high", id="P5-C4"),
        pytest.param(5, 5, 25, "high", id="P5-C5"),
        # P = 4: medium | medium | medium_high | high | high
        pytest.param(4, 1, 4, "medium", id="P4-C1"),
        pytest.param(4, 2, 8, "medium", id="P4-C2"),
        pytest.param(4, 3, 12, "medium_high", id="P4-C3"),
        pytest.param(4, 4, 16, "high", id="P4-C4"),
        pytest.param(4, 5, 20, "high", id="P4-C5"),
        # P = 3: low | medium | medium | medium_high | high
        pytest.param(3, 1, 3, "low", id="P3-C1"),
        pytest.param(3, 2, 6, "medium", id="P3-C2"),
        pytest.param(3, 3, 9, "medium", id="P3-C3"),
        pytest.param(3, 4, 12, "medium_high", id="P3-C4"),
        pytest.param(3, 5, 15, "high", id="P3-C5"),
        # P = 2: low | low | medium | medium | medium_high
        pytest.param(2, 1, 2, "low", id="P2-C1"),
        pytest.param(2, 2, 4, "low", id="P2-C2"),
        pytest.param(2, 3, 6, "medium", id="P2-C3"),
        pytest.param(2, 4, 8, "medium", id="P2-C4"),
        pytest.param(2, 5, 10, "medium_high", id="P2-C5"),
        # P = 1: low | low | medium | medium | medium_high
        pytest.param(1, 1, 1, "low", id="P1-C1"),
        pytest.param(1, 2, 2, "low", id="P1-C2"),
        pytest.param(1, 3, 3, "medium", id="P1-C3"),
        pytest.param(1, 4, 4, "medium", id="P1-C4"),
        pytest.param(1, 5, 5, "medium_high", id="P1-C5"),
    ],
)
def test_matrix_cell(p: int, c: int, score: int, ranking: str) -> None:
    assert risk_score(p, c) == score
    assert risk_ranking(p, c) == ranking


@pytest.mark.parametrize(
    ("p", "c"),
    [
        pytest.param(0, 3, id="P0"),
        pytest.param(6, 3, id="P6"),
        pytest.param(-1, 3, id="P-negative"),
        pytest.param(3, 0, id="C0"),
        pytest.param(3, 6, id="C6"),
        pytest.param(True, 3, id="P-bool"),
        pytest.param(3, 2.0, id="C-float"),
    ],
)
def test_out_of_range_rejected(p: int, c: int) -> None:
    with pytest.raises(ValueError):
        risk_score(p, c)
    with pytest.raises(ValueError):
        risk_ranking(p, c)
