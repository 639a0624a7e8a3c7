"""SPEC §6 action and MOC state machines: every (from, to) pair, allowed or not."""

from itertools import product

import pytest

from reliatic_appliance.domain.lifecycle import (
    ACTION_STATUSES,
    ACTION_TRANSITIONS,
    MOC_STATUSES,
    MOC_TRANSITIONS,
    OPEN_ACTION_STATUSES,
    InvalidTransition,
    Machine,
    allowed_next,
    check_transition,
    is_terminal,
)

# SPEC §6, written out edge by edge.
ACTION_ALLOWED = {
    ("open", "in_progress"),
    ("open", "on_hold"),
    ("open", "cancelled"),
    ("in_progress", "on_hold"),
    ("in_progress", "completed"),
    ("in_progress", "cancelled"),
    ("on_hold", "in_progress"),
    ("on_hold", "cancelled"),
    ("completed", "verified"),
    ("completed", "in_progress"),
    ("verified", "closed"),
}
MOC_ALLOWED = {
    ("draft", "submitted"),
    ("draft", "cancelled"),
    ("submitted", "under_review"),
    ("submitted", "cancelled"),
    ("under_review", "approved"),
    ("under_review", "rejected"),
    ("approved", "implemented"),
    ("implemented", "closed"),
    ("rejected", "draft"),
}

ACTION_STATUS_SET = {
    "open",
    "in_progress",
    "on_hold",
    "completed",
    "verified",
    "closed",
    "cancelled",
}
MOC_STATUS_SET = {
    "draft",
    "submitted",
    "under_review",
    "approved",
    "rejected",
    "implemented",
    "closed",
    "cancelled",
}


def _pairs(
    machine: str, statuses: set[str], allowed: set[tuple[str, str]], want: bool
) -> list[object]:
    return [
        pytest.param(machine, a, b, id=f"{machine}:{a}->{b}")
        for a, b in product(sorted(statuses), sorted(statuses))
        if ((a, b) in allowed) is want
    ]


def test_status_tuples() -> None:
    assert set(ACTION_STATUSES) == ACTION_STATUS_SET
    assert len(ACTION_STATUSES) == len(ACTION_STATUS_SET)
    assert set(MOC_STATUSES) == MOC_STATUS_SET
    assert len(MOC_STATUSES) == len(MOC_STATUS_SET)
    assert ACTION_STATUSES[0] == "open"  # new actions are open (SPEC §5)
    assert MOC_STATUSES[0] == "draft"  # new MOCs are draft (SPEC §5)
    assert set(ACTION_TRANSITIONS) == ACTION_STATUS_SET
    assert set(MOC_TRANSITIONS) == MOC_STATUS_SET


def test_transition_tables_match_spec() -> None:
    assert {(a, b) for a, targets in ACTION_TRANSITIONS.items() for b in targets} == ACTION_ALLOWED
    assert {(a, b) for a, targets in MOC_TRANSITIONS.items() for b in targets} == MOC_ALLOWED


def test_open_action_statuses() -> None:
    # SPEC §7: escalation skips completed, verified, closed and cancelled.
    assert OPEN_ACTION_STATUSES == ("open", "in_progress", "on_hold")


@pytest.mark.parametrize(
    ("machine", "current", "target"),
    _pairs("action", ACTION_STATUS_SET, ACTION_ALLOWED, True)
    + _pairs("moc", MOC_STATUS_SET, MOC_ALLOWED, True),
)
def test_allowed_transition(machine: Machine, current: str, target: str) -> None:
    check_transition(machine, current, target)  # does not raise
    assert target in allowed_next(machine, current)


@pytest.mark.parametrize(
    ("machine", "current", "target"),
    _pairs("action", ACTION_STATUS_SET, ACTION_ALLOWED, False)
    + _pairs("moc", MOC_STATUS_SET, MOC_ALLOWED, False),
)
def test_forbidden_transition(machine: Machine, current: str, target: str) -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(machine, current, target)
    assert info.value.current == current
    assert info.value.target == target
    assert info.value.allowed == allowed_next(machine, current)
    assert target not in info.value.allowed


@pytest.mark.parametrize(
    ("machine", "state", "expected", "terminal"),
    [
        pytest.param("action", "open", ("cancelled", "in_progress", "on_hold"), False, id="a-open"),
        pytest.param(
            "action",
            "in_progress",
            ("cancelled", "completed", "on_hold"),
            False,
            id="a-in_progress",
        ),
        pytest.param("action", "on_hold", ("cancelled", "in_progress"), False, id="a-on_hold"),
        pytest.param("action", "completed", ("in_progress", "verified"), False, id="a-completed"),
        pytest.param("action", "verified", ("closed",), False, id="a-verified"),
        pytest.param("action", "closed", (), True, id="a-closed"),
        pytest.param("action", "cancelled", (), True, id="a-cancelled"),
        pytest.param("moc", "draft", ("cancelled", "submitted"), False, id="m-draft"),
        pytest.param("moc", "submitted", ("cancelled", "under_review"), False, id="m-submitted"),
        pytest.param("moc", "under_review", ("approved", "rejected"), False, id="m-under_review"),
        pytest.param("moc", "approved", ("implemented",), False, id="m-approved"),
        pytest.param("moc", "implemented", ("closed",), False, id="m-implemented"),
        pytest.param("moc", "rejected", ("draft",), False, id="m-rejected"),
        pytest.param("moc", "closed", (), True, id="m-closed"),
        pytest.param("moc", "cancelled", (), True, id="m-cancelled"),
    ],
)
def test_allowed_next_and_terminal(
    machine: Machine, state: str, expected: tuple[str, ...], terminal: bool
) -> None:
    assert allowed_next(machine, state) == expected
    assert is_terminal(machine, state) is terminal


def test_invalid_transition_message() -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition("action", "open", "closed")
    assert str(info.value) == (
        "cannot change status from 'open' to 'closed'; "
        "allowed next: cancelled, in_progress, on_hold"
    )
    with pytest.raises(InvalidTransition) as info:
        check_transition("moc", "closed", "draft")
    assert info.value.allowed == ()
    assert "'closed' is terminal" in str(info.value)


def test_invalid_transition_is_not_a_value_error() -> None:
    # The API maps InvalidTransition to 409 and ValueError to 400; they must not overlap.
    assert not issubclass(InvalidTransition, ValueError)


@pytest.mark.parametrize(
    ("machine", "current", "target"),
    [
        pytest.param("action", "draft", "open", id="action-unknown-current"),
        pytest.param("action", "open", "approved", id="action-unknown-target"),
        pytest.param("moc", "open", "draft", id="moc-unknown-current"),
        pytest.param("moc", "draft", "in_progress", id="moc-unknown-target"),
        pytest.param("moc", "draft", "", id="moc-empty-target"),
        pytest.param("workorder", "open", "closed", id="unknown-machine"),
    ],
)
def test_unknown_names_are_value_errors(machine: Machine, current: str, target: str) -> None:
    with pytest.raises(ValueError):
        check_transition(machine, current, target)


@pytest.mark.parametrize(
    ("machine", "state"),
    [
        pytest.param("action", "draft", id="action-unknown"),
        pytest.param("moc", "open", id="moc-unknown"),
        pytest.param("workorder", "open", id="unknown-machine"),
    ],
)
def test_allowed_next_unknown(machine: Machine, state: str) -> None:
    with pytest.raises(ValueError):
        allowed_next(machine, state)
    with pytest.raises(ValueError):
        is_terminal(machine, state)


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        ACTION_TRANSITIONS["closed"] = frozenset({"open"})  # type: ignore[index]
