"""SPEC §7 SLA escalation levels: level 1 once past due, then one per escalation_levels_days."""

import datetime

import pytest

from reliatic_appliance.domain.sla import escalation_level, level_cutoffs, validate_levels_days

D = datetime.date
DUE = D(2026, 3, 10)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        pytest.param(D(2026, 1, 1), 0, id="well-before-due"),
        pytest.param(D(2026, 3, 9), 0, id="day-before-due"),
        pytest.param(D(2026, 3, 10), 0, id="on-due-date-not-overdue"),
        pytest.param(D(2026, 3, 11), 1, id="1-day-past-due-level1"),
        pytest.param(D(2026, 3, 16), 1, id="6-days-past-due-level1"),
        pytest.param(D(2026, 3, 17), 2, id="7-days-past-due-level2-edge"),
        pytest.param(D(2026, 4, 8), 2, id="29-days-past-due-level2"),
        pytest.param(D(2026, 4, 9), 3, id="30-days-past-due-level3-edge"),
        pytest.param(D(2027, 3, 10), 3, id="a-year-past-due-stays-level3"),
    ],
)
def test_default_levels(today: datetime.date, expected: int) -> None:
    assert escalation_level(DUE, today) == expected


@pytest.mark.parametrize(
    ("due", "today", "levels", "expected"),
    [
        pytest.param(D(2025, 12, 31), D(2026, 1, 7), (7, 30), 2, id="across-year-end-7-days"),
        pytest.param(D(2028, 2, 28), D(2028, 3, 6), (7, 30), 2, id="across-leap-day-7-days"),
        pytest.param(D(2028, 2, 28), D(2028, 3, 5), (7, 30), 1, id="across-leap-day-6-days"),
        pytest.param(DUE, D(2026, 3, 11), (), 1, id="no-further-levels-1-day"),
        pytest.param(DUE, D(2027, 1, 1), (), 1, id="no-further-levels-long-overdue"),
        pytest.param(DUE, D(2026, 3, 12), (3,), 1, id="single-level-2-days"),
        pytest.param(DUE, D(2026, 3, 13), (3,), 2, id="single-level-3-days"),
        pytest.param(DUE, D(2026, 3, 11), (1, 2, 3), 2, id="level-at-1-day-counts-at-once"),
        pytest.param(DUE, D(2026, 3, 13), (1, 2, 3), 4, id="three-levels-all-passed"),
        pytest.param(DUE, D(2026, 6, 8), (14, 60, 90), 4, id="custom-90-days"),
        pytest.param(DUE, D(2026, 6, 7), (14, 60, 90), 3, id="custom-89-days"),
    ],
)
def test_custom_levels(
    due: datetime.date, today: datetime.date, levels: tuple[int, ...], expected: int
) -> None:
    assert escalation_level(due, today, levels) == expected


@pytest.mark.parametrize(
    "levels",
    [
        pytest.param((0, 7), id="zero"),
        pytest.param((-1,), id="negative"),
        pytest.param((30, 7), id="descending"),
        pytest.param((7, 7), id="duplicate"),
        pytest.param((True, 7), id="bool"),
        pytest.param((7.5,), id="float"),
    ],
)
def test_bad_levels_rejected(levels: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        validate_levels_days(levels)
    with pytest.raises(ValueError):
        escalation_level(DUE, D(2026, 5, 1), levels)


def test_list_of_levels_accepted() -> None:
    # The config gives a TOML list, not a tuple.
    assert escalation_level(DUE, D(2026, 4, 9), [7, 30]) == 3


@pytest.mark.parametrize("levels_days", [(7, 30), (1, 2, 3), (14,), ()])
def test_level_cutoffs_agree_with_escalation_level(levels_days: tuple[int, ...]) -> None:
    """The query compares `due_date` with the cutoffs; it must find the levels this rule gives."""
    for offset in range(-3, 45):
        due = DUE + datetime.timedelta(days=offset)
        reached = sum(1 for cutoff in level_cutoffs(DUE, levels_days) if due.isoformat() < cutoff)
        assert reached == escalation_level(due, DUE, levels_days), due
