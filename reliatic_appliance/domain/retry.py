"""Webhook retry timing (SPEC §7): the backoff schedule, its jitter and `Retry-After`, and
what one attempt's answer means for its delivery (`decide`).

SPEC §7: a non-2xx answer or a timeout schedules a retry after each delay of
`retry_schedule_seconds` (default 1 min, 5 min, 30 min, 2 h) — one attempt plus one retry per
entry — after which the delivery is `failed`. Each delay gets ±10 % jitter, and a `Retry-After`
the receiver sends is honoured up to the next scheduled delay's size.

Pure: the random source and the current time are passed in, so every case is table-testable.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

JITTER = 0.10


class DeliveryStatus(StrEnum):
    """A webhook delivery's `status` in the delivery log (SPEC §7)."""

    PENDING = "pending"  # an attempt is due (the first, or a retry)
    SUCCEEDED = "succeeded"  # a 2xx answer
    FAILED = "failed"  # `next_attempt_delay` had no delay left: kept in the log as failed


# RFC 9110 delta-seconds is 1*DIGIT; a sign and a fraction are tolerated because some
# receivers send them, and reading "-5" as "now" or "1.5" as 1.5 s is what they mean.
_DELTA_SECONDS = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def next_attempt_delay(
    *,
    attempt: int,
    schedule: Sequence[float],
    rng: random.Random,
    retry_after: float | None,
) -> float | None:
    """Seconds to wait before the next attempt, or None when the delivery has failed for good.

    `attempt` is the number of attempts already made (1 after the first failure). With the
    default 4-entry schedule, attempts 1-4 get a delay and attempt 5 returns None: one attempt
    plus `len(schedule)` retries.

    The rule, with ``s = schedule[attempt - 1]`` and ``j = s * uniform(0.9, 1.1)``::

        delay = j                          if retry_after is None
        delay = max(j, min(retry_after, s)) otherwise

    Why this reading of "honoured up to the next scheduled delay's size":

    * `Retry-After` is a "not before": retrying earlier than the receiver asked would only burn
      one of our five attempts on a receiver that said it is not ready. So it can lengthen the
      wait...
    * ...but only up to ``s``, the size of the delay we were about to use. A receiver cannot
      stretch the schedule (``Retry-After: 86400`` on a 1-minute step waits 1 minute, not a
      day), so the time from the first attempt to `failed` stays bounded by the configured
      schedule (+10 %), whatever the receiver says.
    * It never shortens the wait: ``Retry-After: 0`` does not turn our backoff into a burst of
      immediate retries that would spend the whole attempt budget in seconds and defeat the
      schedule's purpose of riding out an outage.

    When `Retry-After` wins, the delay is exactly what the receiver asked (capped), without
    jitter: adding jitter could only make us retry before the time it named. A NaN
    `retry_after` is ignored, +inf is capped to ``s`` and a negative value has no effect.
    """
    if attempt < 1:
        raise ValueError("attempt counts the attempts already made and starts at 1")
    if attempt > len(schedule):
        return None
    scheduled = float(schedule[attempt - 1])
    if not math.isfinite(scheduled) or scheduled < 0:
        raise ValueError("retry schedule entries must be finite and non-negative")
    jittered = scheduled * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is None or math.isnan(retry_after):
        return jittered
    return max(jittered, min(max(retry_after, 0.0), scheduled))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header value asks us to wait, or None if absent or unreadable.

    Accepts delta-seconds (``120``) and an HTTP-date in any of the three RFC 9110 formats
    (IMF-fixdate, RFC 850, asctime), measured from `now` (timezone-aware). A negative delta or a
    date in the past is 0 (the receiver is ready now); garbage is None, i.e. as if the header
    were missing, since a broken header must not change our schedule.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        if math.isnan(seconds):
            return None
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # asctime dates carry no zone; HTTP dates are always GMT.
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt to send a delivery got: a status, or why there was none."""

    http_status: int | None
    error: str | None
    retry_after: str | None  # the receiver's `Retry-After` header, as sent
    duration_ms: float


@dataclass(frozen=True)
class Decision:
    """The delivery's next state after an attempt."""

    status: DeliveryStatus
    delay_seconds: float | None  # until the retry, when `status` is pending
    disable_reason: str | None  # set when the subscription must be disabled now


def decide(
    result: AttemptResult,
    *,
    cycle_attempts: int,
    schedule: Sequence[float],
    rng: random.Random,
    now: datetime,
) -> Decision:
    """Succeeded on 2xx; 410 Gone fails and disables at once; otherwise retry or fail.

    `cycle_attempts`: attempts already made in this retry cycle (a manual redelivery
    starts a new one), not counting `result`'s.
    """
    status = result.http_status
    if status is not None and 200 <= status < 300:
        return Decision(DeliveryStatus.SUCCEEDED, None, None)
    if status == 410:
        return Decision(DeliveryStatus.FAILED, None, "the receiver answered 410 Gone")
    delay = next_attempt_delay(
        attempt=cycle_attempts + 1,
        schedule=schedule,
        rng=rng,
        retry_after=parse_retry_after(result.retry_after, now),
    )
    if delay is None:
        return Decision(DeliveryStatus.FAILED, None, None)
    return Decision(DeliveryStatus.PENDING, delay, None)
