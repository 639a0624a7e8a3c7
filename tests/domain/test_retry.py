"""SPEC §7 retry timing: schedule, ±10 % jitter, Retry-After honoured up to the step's size."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reliatic_appliance.domain.retry import (
    AttemptResult,
    DeliveryStatus,
    decide,
    next_attempt_delay,
    parse_retry_after,
)

SCHEDULE = (60.0, 300.0, 1800.0, 7200.0)


class FixedJitter(random.Random):
    """`uniform` returns the point at fraction `u` of its range: 0 -> -10 %, 1 -> +10 %."""

    def __init__(self, u: float) -> None:
        super().__init__(0)
        self.u = u

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.u


LOW, MID, HIGH = FixedJitter(0.0), FixedJitter(0.5), FixedJitter(1.0)


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 60.0), (2, 300.0), (3, 1800.0), (4, 7200.0), (5, None), (6, None)],
)
def test_schedule_without_jitter_offset(attempt: int, expected: float | None) -> None:
    delay = next_attempt_delay(attempt=attempt, schedule=SCHEDULE, rng=MID, retry_after=None)
    assert delay == (None if expected is None else pytest.approx(expected))


def test_five_attempts_in_all() -> None:
    delays = [
        next_attempt_delay(attempt=n, schedule=SCHEDULE, rng=MID, retry_after=None)
        for n in range(1, 10)
    ]
    assert sum(d is not None for d in delays) == 4  # four retries after the first attempt
    assert delays.index(None) == 4  # the 5th attempt's failure is final


@pytest.mark.parametrize(("rng", "factor"), [(LOW, 0.9), (HIGH, 1.1)])
def test_jitter_bounds(rng: random.Random, factor: float) -> None:
    for attempt, step in enumerate(SCHEDULE, start=1):
        delay = next_attempt_delay(attempt=attempt, schedule=SCHEDULE, rng=rng, retry_after=None)
        assert delay == pytest.approx(step * factor)


def test_real_jitter_stays_within_ten_percent_and_varies() -> None:
    rng = random.Random(1234)
    seen = {
        next_attempt_delay(attempt=1, schedule=SCHEDULE, rng=rng, retry_after=None)
        for _ in range(500)
    }
    assert all(d is not None and 54.0 <= d <= 66.0 for d in seen)
    assert len(seen) > 400
    assert min(d for d in seen if d is not None) < 56 and max(d for d in seen if d) > 64


# delay = max(jittered, min(retry_after, step)); step 1 is 60 s, jittered 54 (LOW) / 66 (HIGH).
@pytest.mark.parametrize(
    ("rng", "retry_after", "expected"),
    [
        pytest.param(LOW, None, 54.0, id="no-header-jittered"),
        pytest.param(LOW, 0.0, 54.0, id="zero-never-shortens"),
        pytest.param(LOW, 10.0, 54.0, id="shorter-than-ours-ignored"),
        pytest.param(LOW, 57.0, 57.0, id="longer-than-jittered-honoured-exactly"),
        pytest.param(LOW, 60.0, 60.0, id="equal-to-step"),
        pytest.param(LOW, 61.0, 60.0, id="just-over-step-capped"),
        pytest.param(LOW, 86400.0, 60.0, id="a-day-capped-to-step"),
        pytest.param(LOW, float("inf"), 60.0, id="infinite-capped"),
        pytest.param(LOW, float("nan"), 54.0, id="nan-ignored"),
        pytest.param(LOW, -5.0, 54.0, id="negative-no-effect"),
        pytest.param(HIGH, 10.0, 66.0, id="high-jitter-kept"),
        pytest.param(HIGH, 60.0, 66.0, id="high-jitter-above-cap-kept"),
        pytest.param(HIGH, 3600.0, 66.0, id="cap-never-cuts-our-own-jitter"),
    ],
)
def test_retry_after_rule(rng: random.Random, retry_after: float | None, expected: float) -> None:
    delay = next_attempt_delay(attempt=1, schedule=SCHEDULE, rng=rng, retry_after=retry_after)
    assert delay == pytest.approx(expected)


def test_retry_after_cap_follows_the_current_step() -> None:
    delay = next_attempt_delay(attempt=3, schedule=SCHEDULE, rng=LOW, retry_after=86400.0)
    assert delay == pytest.approx(1800.0)


def test_retry_after_does_not_revive_a_failed_delivery() -> None:
    assert next_attempt_delay(attempt=5, schedule=SCHEDULE, rng=LOW, retry_after=10.0) is None


def test_empty_schedule_means_one_attempt_only() -> None:
    assert next_attempt_delay(attempt=1, schedule=(), rng=MID, retry_after=None) is None


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempt_must_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError):
        next_attempt_delay(attempt=attempt, schedule=SCHEDULE, rng=MID, retry_after=None)


NOW = datetime(2026, 4, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param("120", 120.0, id="delta"),
        pytest.param(" 120 ", 120.0, id="delta-padded"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("1.5", 1.5, id="fraction"),
        pytest.param("-5", 0.0, id="negative-is-now"),
        pytest.param("Wed, 01 Apr 2026 12:02:00 GMT", 120.0, id="imf-fixdate"),
        pytest.param("Wednesday, 01-Apr-26 12:02:00 GMT", 120.0, id="rfc850"),
        pytest.param("Wed Apr  1 12:02:00 2026", 120.0, id="asctime"),
        pytest.param("Wed, 01 Apr 2026 13:02:00 +0100", 120.0, id="numeric-zone"),
        pytest.param("Wed, 01 Apr 2026 11:00:00 GMT", 0.0, id="past-date-is-now"),
        pytest.param("soon", None, id="word"),
        pytest.param("12 seconds", None, id="unit"),
        pytest.param("1e3", None, id="exponent"),
        pytest.param("0x10", None, id="hex"),
        pytest.param("Wed, 99 Apr 2026 12:02:00 GMT", None, id="bad-day"),
        pytest.param("Wed, 01 Foo 2026 12:02:00 GMT", None, id="bad-month"),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    parsed = parse_retry_after(value, NOW)
    assert parsed == (None if expected is None else pytest.approx(expected))


def test_parse_retry_after_date_with_another_now_zone() -> None:
    now = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert parse_retry_after("Wed, 01 Apr 2026 12:00:30 GMT", now) == pytest.approx(30.0)


def test_parse_retry_after_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        parse_retry_after("10", NOW.replace(tzinfo=None))


DECIDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def answered(status: int | None, retry_after: str | None = None) -> AttemptResult:
    return AttemptResult(status, None if status else "timeout", retry_after, 12.5)


@pytest.mark.parametrize(
    ("result", "cycle_attempts", "status", "delay", "disables"),
    [
        pytest.param(answered(200), 0, DeliveryStatus.SUCCEEDED, None, False, id="2xx"),
        pytest.param(answered(204), 4, DeliveryStatus.SUCCEEDED, None, False, id="2xx-last"),
        pytest.param(answered(410), 0, DeliveryStatus.FAILED, None, True, id="410-at-once"),
        # LOW jitter: 10 % under each step, unless the receiver's Retry-After asks for more.
        pytest.param(answered(500), 0, DeliveryStatus.PENDING, 54.0, False, id="5xx-retry"),
        pytest.param(answered(None), 1, DeliveryStatus.PENDING, 270.0, False, id="timeout"),
        pytest.param(answered(301), 2, DeliveryStatus.PENDING, 1620.0, False, id="redirect"),
        pytest.param(answered(503, "120"), 0, DeliveryStatus.PENDING, 60.0, False, id="capped"),
        pytest.param(answered(503, "290"), 1, DeliveryStatus.PENDING, 290.0, False, id="asked"),
        pytest.param(answered(500), 4, DeliveryStatus.FAILED, None, False, id="retries-spent"),
    ],
)
def test_decide(
    result: AttemptResult,
    cycle_attempts: int,
    status: DeliveryStatus,
    delay: float | None,
    disables: bool,
) -> None:
    """What an answer means for the delivery (SPEC §7): 2xx succeeds, 410 disables at once,
    anything else retries on the schedule until the fifth attempt fails."""
    decision = decide(
        result, cycle_attempts=cycle_attempts, schedule=SCHEDULE, rng=LOW, now=DECIDED_AT
    )
    assert decision.status == status
    assert decision.delay_seconds == (None if delay is None else pytest.approx(delay))
    assert (decision.disable_reason is not None) is disables
