"""SLA escalation level of an overdue action (SPEC §7, used with §6 action statuses)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

DEFAULT_ESCALATION_LEVELS_DAYS: tuple[int, ...] = (7, 30)


def validate_levels_days(levels_days: Sequence[int]) -> None:
    """Raise ValueError unless ``levels_days`` are positive integers in strictly ascending
    order (each level must come after the one before it, or a level would be skipped)."""
    previous = 0
    for days in levels_days:
        if isinstance(days, bool) or not isinstance(days, int) or days <= previous:
            raise ValueError(
                "escalation_levels_days must be positive integers in ascending order, "
                f"got {list(levels_days)!r}"
            )
        previous = days


def escalation_level(
    due_date: datetime.date,
    today: datetime.date,
    levels_days: Sequence[int] = DEFAULT_ESCALATION_LEVELS_DAYS,
) -> int:
    """Escalation level of an action due on ``due_date``, as of ``today``.

    With ``overdue = (today - due_date).days``:

    * 0 while ``overdue <= 0``: an action is on time through its whole due date;
    * 1 from the first day after the due date (``overdue >= 1``);
    * then one more level for each ``levels_days`` entry with ``overdue >= entry``: with the
      default ``(7, 30)``, level 2 from 7 days past due, level 3 from 30 days past due.

    The result never exceeds ``len(levels_days) + 1``. Whether the action is still open
    (``lifecycle.OPEN_ACTION_STATUSES``) is the caller's check; ``today`` is the caller's
    clock's date (UTC), so this stays pure. Raises ValueError for bad ``levels_days``.
    """
    validate_levels_days(levels_days)
    overdue = (today - due_date).days
    if overdue <= 0:
        return 0
    return 1 + sum(1 for days in levels_days if overdue >= days)


def level_cutoffs(today: datetime.date, levels_days: Sequence[int]) -> list[str]:
    """For each level k, the date (`YYYY-MM-DD`) an action must be due before to have
    reached it by ``today``: what a query can compare ``due_date`` with.

    Mirrors `escalation_level`: level 1 once overdue by a day (due before today), level k+1
    once overdue by ``levels_days[k-1]`` days (due on or before today minus that).
    """
    return [today.isoformat()] + [
        (today - datetime.timedelta(days=days - 1)).isoformat() for days in levels_days
    ]
