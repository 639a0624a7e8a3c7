"""bench/write_stalls.py's pure part: which seconds of a run held a stall, and how long."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))  # bench modules import each other as top-level modules

import loadgen  # noqa: E402
import write_stalls  # noqa: E402


def tally(*answers: tuple[float, float]) -> loadgen.Tally:
    """(seconds into the run when the answer came, latency in seconds), all 201s."""
    result = loadgen.Tally()
    for finished, latency in answers:
        result.latencies.append(latency)
        result.finished.append(100.0 + finished)
        result.statuses[201] = result.statuses.get(201, 0) + 1
    return result


@pytest.mark.parametrize(
    ("answers", "seconds"),
    [
        ([], []),
        ([(0.5, 0.02), (1.5, 0.149)], []),  # at the threshold's edge: not a stall
        ([(0.5, 0.02), (0.9, 0.151)], [(0, 151.0)]),
        # the slowest of each second, seconds in order, quiet ones left out
        ([(3.2, 0.4), (3.9, 0.2), (1.1, 0.3), (2.0, 0.01)], [(1, 300.0), (3, 400.0)]),
    ],
)
def test_stalls_are_the_seconds_whose_slowest_request_passed_the_threshold(
    answers: list[tuple[float, float]], seconds: list[tuple[int, float]]
) -> None:
    result = write_stalls.stalls_of("post", tally(*answers), start=100.0, elapsed=10.0)
    assert [(s, pytest.approx(ms)) for s, ms in result.seconds] == seconds
    assert result.rps == pytest.approx(len(answers) / 10.0)


def test_percentiles_come_from_every_request() -> None:
    answers = [(n / 100, 0.010) for n in range(999)] + [(9.99, 2.0)]
    result = write_stalls.stalls_of("post", tally(*answers), start=100.0, elapsed=10.0)
    assert (result.p50_ms, result.p99_ms, result.max_ms) == pytest.approx((10.0, 10.0, 2000.0))
    assert result.seconds == [(9, pytest.approx(2000.0))]
