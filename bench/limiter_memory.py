"""Resident memory of the rate limiter as 1M distinct keys hit it (SPEC §4: bounded).

The server's own `FixedWindowLimiter`, built with the production settings' `max_tracked`,
is hit once by each of 1,000,000 (then 2,000,000) distinct bucket names inside one window,
as a flood of keys or addresses would. The process's resident set (VmRSS) is read before
and at each step; it must stop growing (the dict and deque settle at their size for
`max_tracked`; measured: flat from 1M to 3M). For contrast the same is done with a limiter
allowed to track every key (what an unbounded dict would cost).

Run: `python bench/limiter_memory.py` (prints one JSON line).
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliatic_appliance.api.ratelimit import FixedWindowLimiter
from reliatic_appliance.settings import RateLimitSettings

STEPS = (100_000, 500_000, 1_000_000, 2_000_000)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill(limiter: FixedWindowLimiter) -> dict[str, float]:
    gc.collect()
    points = {"0": rss_mib()}
    n = 0
    for step in STEPS:
        while n < step:
            limiter.hit(f"rl_key_{n:010d}", 100)
            n += 1
        gc.collect()
        points[str(step)] = rss_mib()
    return points


def main() -> None:
    max_tracked = RateLimitSettings().max_tracked
    clock = lambda: 1_800_000_000.0  # noqa: E731 - one window for the whole fill
    bounded = FixedWindowLimiter(max_tracked=max_tracked, clock=clock)
    points = fill(bounded)
    tracked = len(bounded)
    del bounded
    gc.collect()
    unbounded = FixedWindowLimiter(max_tracked=10_000_000, clock=clock)
    base = rss_mib()
    unbounded_points = {k: v - base for k, v in fill(unbounded).items()}
    print(
        json.dumps(
            {
                "max_tracked": max_tracked,
                "tracked_after": tracked,
                "rss_mib": points,
                "rss_at_1m_mib": points["1000000"],
                "growth_1m_to_2m_mib": points["2000000"] - points["1000000"],
                "unbounded_growth_mib": unbounded_points["1000000"] - unbounded_points["0"],
            }
        )
    )


if __name__ == "__main__":
    main()
