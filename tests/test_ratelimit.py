"""Fixed-window limiter (§4): counts, 429 verdicts, aligned resets, bounded memory. No sleeps."""

import tracemalloc

import pytest

from reliatic_appliance.api.ratelimit import FixedWindowLimiter, RateDecision

T0 = 1_800_000_000.0  # a multiple of 60: the start of a window


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(clock: FakeClock, **kwargs: int) -> FixedWindowLimiter:
    return FixedWindowLimiter(clock=clock, **kwargs)


def test_counts_down_then_denies_with_retry_after() -> None:
    clock = FakeClock(T0 + 15.5)
    rl = limiter(clock)
    decisions = [rl.hit("key:1", 3) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]  # never below 0
    assert {d.reset_at for d in decisions} == {int(T0) + 60}
    assert [d.retry_after for d in decisions] == [0, 0, 0, 45, 45]  # ceil(44.5)
    assert decisions[0] == RateDecision(
        allowed=True, limit=3, remaining=2, reset_at=int(T0) + 60, retry_after=0
    )


def stamped(decision: RateDecision) -> dict[str, str]:
    headers: dict[str, str] = {}
    decision.stamp(headers)
    return headers


def test_headers() -> None:
    clock = FakeClock(T0 + 59.9)
    rl = limiter(clock)
    assert stamped(rl.hit("k", 1)) == {
        "X-RateLimit-Limit": "1",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(T0) + 60),
    }
    assert stamped(rl.hit("k", 1)) == {
        "X-RateLimit-Limit": "1",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(T0) + 60),
        "Retry-After": "1",  # 0.1 s left rounds up: waiting that long lands in the next window
    }


def test_resets_at_the_window_boundary() -> None:
    clock = FakeClock(T0 + 10)
    rl = limiter(clock)
    for _ in range(3):
        rl.hit("k", 2)
    clock.now = T0 + 59.999
    assert not rl.hit("k", 2).allowed
    clock.now = T0 + 60
    d = rl.hit("k", 2)
    assert (d.allowed, d.remaining, d.reset_at) == (True, 1, int(T0) + 120)
    assert len(rl) == 1  # the old window's table was dropped


def test_a_burst_across_the_boundary_gets_up_to_twice_the_limit() -> None:
    """The fixed window's known trade-off, as README.md states it to integrators: the
    count restarts at the boundary, so the end of one window and the start of the next
    together admit twice the limit. Changing the algorithm means changing that text."""
    clock = FakeClock(T0 + 59)
    rl = limiter(clock)
    admitted = sum(rl.hit("k", 5).allowed for _ in range(6))
    clock.now = T0 + 60
    admitted += sum(rl.hit("k", 5).allowed for _ in range(6))
    assert admitted == 10  # within one second


def test_windows_are_aligned_for_every_bucket() -> None:
    clock = FakeClock(T0 + 5)
    rl = limiter(clock)
    first = rl.hit("a", 10)
    clock.now = T0 + 50
    second = rl.hit("b", 10)
    assert first.reset_at == second.reset_at == int(T0) + 60


def test_window_length_is_configurable() -> None:
    clock = FakeClock(T0 + 1)
    rl = limiter(clock, window_seconds=10)
    assert rl.hit("k", 1).reset_at == int(T0) + 10
    assert rl.window_seconds == 10


def test_buckets_are_independent_and_limits_per_call() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(5):
        rl.hit("key:a", 5)
    assert not rl.hit("key:a", 5).allowed
    b = rl.hit("key:b", 100)
    assert (b.allowed, b.limit, b.remaining) == (True, 100, 99)
    # The limit is per call: a key whose limit was raised mid-window keeps its count.
    raised = rl.hit("key:a", 10)
    assert (raised.allowed, raised.remaining) == (True, 3)  # 7 counted, denied ones included


def test_peek_does_not_count() -> None:
    clock = FakeClock(T0 + 30)
    rl = limiter(clock)
    fresh = rl.peek("k", 2)
    assert (fresh.allowed, fresh.remaining, fresh.retry_after) == (True, 2, 0)
    assert len(rl) == 0
    rl.hit("k", 2)
    assert rl.peek("k", 2).remaining == 1
    rl.hit("k", 2)
    spent = rl.peek("k", 2)
    assert (spent.allowed, spent.remaining, spent.retry_after) == (False, 0, 30)
    assert rl.peek("k", 2) == spent


def test_zero_limit_denies_and_bad_arguments_raise() -> None:
    rl = limiter(FakeClock())
    assert not rl.hit("k", 0).allowed
    with pytest.raises(ValueError):
        rl.hit("k", -1)
    with pytest.raises(ValueError):
        FixedWindowLimiter(window_seconds=0)
    with pytest.raises(ValueError):
        FixedWindowLimiter(max_tracked=0)


def test_clock_stepping_back_starts_a_fresh_window() -> None:
    clock = FakeClock(T0 + 120)
    rl = limiter(clock)
    rl.hit("k", 1)
    clock.now = T0 + 30  # NTP stepped the wall clock back two windows
    d = rl.hit("k", 1)
    assert (d.allowed, d.reset_at) == (True, int(T0) + 60)


def test_evicts_the_oldest_inserted_bucket() -> None:
    rl = limiter(FakeClock(), max_tracked=2)
    rl.hit("a", 1)
    rl.hit("b", 1)
    assert not rl.hit("a", 1).allowed  # a hit again: it is still the oldest *inserted*
    rl.hit("c", 1)
    assert len(rl) == 2
    # The documented trade-off: the evicted bucket starts again at 0.
    assert rl.peek("a", 1).allowed
    assert not rl.peek("b", 1).allowed


def test_flood_of_addresses_stays_bounded_in_count_and_memory() -> None:
    cap = 10_000
    rl = limiter(FakeClock(), max_tracked=cap)
    # Keys made before tracing starts, so the figures are the limiter's own containers; a
    # structure that kept every key would still show (>= 8 bytes per key, 1.4 MB here).
    keys = [f"ip:10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(200_000)]
    first, rest = keys[:20_000], keys[20_000:]
    hit = rl.hit  # the loops allocate nothing of their own while traced
    tracemalloc.start()
    try:
        for key in first:
            hit(key, 60)
        after_20k, _ = tracemalloc.get_traced_memory()
        assert len(rl) == cap
        for key in rest:
            hit(key, 60)
        after_200k, _ = tracemalloc.get_traced_memory()
        assert len(rl) == cap
    finally:
        tracemalloc.stop()
    assert after_200k <= 1.2 * after_20k, (after_20k, after_200k)
    assert not rl.peek(keys[-1], 1).allowed  # the newest bucket is still tracked
    assert rl.peek(keys[0], 1).allowed  # the oldest was evicted


@pytest.mark.parametrize(
    ("limit", "nodes", "share"),
    [
        pytest.param(100, 1, 100, id="one-node-the-whole-limit"),
        pytest.param(100, 2, 50, id="halves"),
        pytest.param(100, 3, 33, id="floored-so-the-sum-holds"),
        pytest.param(5, 2, 2, id="small-limit-floored"),
        pytest.param(1, 4, 1, id="never-zero"),
    ],
)
def test_each_node_admits_its_share_of_the_limit(limit: int, nodes: int, share: int) -> None:
    rls = [limiter(FakeClock(), nodes=nodes) for _ in range(nodes)]
    admitted = sum(rl.hit("key", limit).allowed for _ in range(limit * 2) for rl in rls)
    assert admitted == share * nodes
    assert rls[0].peek("key", limit).limit == share
    assert admitted <= limit or share == 1  # the sum holds, unless the limit < nodes


def test_nodes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="nodes"):
        FixedWindowLimiter(nodes=0)
