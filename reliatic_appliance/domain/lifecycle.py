"""Action, MOC and inspection statuses (SPEC §5, §6): the action and MOC state machines, with
the open statuses SLA escalation uses (§7)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

Machine = Literal["action", "moc"]


# Lifecycle order (the happy path first, then the exits): the order OpenAPI lists them in.
class ActionStatus(StrEnum):
    """A corrective action's `status`; new actions are `open` (SPEC §6 action lifecycle)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class MocStatus(StrEnum):
    """A management-of-change record's `status`; new MOCs are `draft` (SPEC §6 MOC lifecycle)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    IMPLEMENTED = "implemented"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


# services.inspections refuses completed -> draft (409): too small a machine for the tables below.
class InspectionStatus(StrEnum):
    """An inspection's `status`: a `draft` may become `completed`, never the reverse (SPEC §5)."""

    DRAFT = "draft"
    COMPLETED = "completed"


# The tuples came first; kept, derived, for code that iterates plain sequences.
ACTION_STATUSES: tuple[ActionStatus, ...] = tuple(ActionStatus)
MOC_STATUSES: tuple[MocStatus, ...] = tuple(MocStatus)

_A = ActionStatus
ACTION_TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        _A.OPEN: frozenset({_A.IN_PROGRESS, _A.ON_HOLD, _A.CANCELLED}),
        _A.IN_PROGRESS: frozenset({_A.ON_HOLD, _A.COMPLETED, _A.CANCELLED}),
        _A.ON_HOLD: frozenset({_A.IN_PROGRESS, _A.CANCELLED}),
        # completed -> in_progress is rework after a failed verification.
        _A.COMPLETED: frozenset({_A.VERIFIED, _A.IN_PROGRESS}),
        _A.VERIFIED: frozenset({_A.CLOSED}),
        _A.CLOSED: frozenset(),
        _A.CANCELLED: frozenset(),
    }
)
_M = MocStatus
MOC_TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        _M.DRAFT: frozenset({_M.SUBMITTED, _M.CANCELLED}),
        _M.SUBMITTED: frozenset({_M.UNDER_REVIEW, _M.CANCELLED}),
        _M.UNDER_REVIEW: frozenset({_M.APPROVED, _M.REJECTED}),
        _M.APPROVED: frozenset({_M.IMPLEMENTED}),
        _M.IMPLEMENTED: frozenset({_M.CLOSED}),
        # A rejected change goes back to its author for rework, not to the bin.
        _M.REJECTED: frozenset({_M.DRAFT}),
        _M.CLOSED: frozenset(),
        _M.CANCELLED: frozenset(),
    }
)

# SPEC §7: SLA escalation applies to actions that are not completed, verified, closed or
# cancelled. Derived rather than listed so a new status cannot silently escape escalation.
_DONE_ACTION_STATUSES = frozenset({_A.COMPLETED, _A.VERIFIED, _A.CLOSED, _A.CANCELLED})
OPEN_ACTION_STATUSES: tuple[ActionStatus, ...] = tuple(
    s for s in ActionStatus if s not in _DONE_ACTION_STATUSES
)

_MACHINES: Mapping[str, Mapping[str, frozenset[str]]] = MappingProxyType(
    {"action": ACTION_TRANSITIONS, "moc": MOC_TRANSITIONS}
)


class InvalidTransition(Exception):
    """A status change the state machine does not allow (HTTP 409 ``conflict``).

    ``allowed`` lists the states reachable from ``current``, sorted, for the error details.
    """

    def __init__(self, current: str, target: str, allowed: tuple[str, ...]) -> None:
        # str(): a status may arrive as a StrEnum member, whose repr is not its text.
        current, target = str(current), str(target)
        self.current = current
        self.target = target
        self.allowed = allowed
        hint = f"allowed next: {', '.join(allowed)}" if allowed else f"{current!r} is terminal"
        super().__init__(f"cannot change status from {current!r} to {target!r}; {hint}")


def _transitions(machine: Machine, state: str) -> frozenset[str]:
    try:
        table = _MACHINES[machine]
    except KeyError:
        raise ValueError(f"unknown state machine {machine!r}") from None
    try:
        return table[state]
    except KeyError:
        raise ValueError(f"unknown {machine} status {str(state)!r}") from None


def allowed_next(machine: Machine, state: str) -> tuple[str, ...]:
    """States reachable from ``state`` in one step, sorted alphabetically.

    Raises ValueError for an unknown machine or state.
    """
    return tuple(sorted(_transitions(machine, state)))


def is_terminal(machine: Machine, state: str) -> bool:
    """True when no transition leaves ``state`` (``closed``, ``cancelled``)."""
    return not _transitions(machine, state)


def check_transition(machine: Machine, current: str, target: str) -> None:
    """Return if ``current -> target`` is allowed, else raise InvalidTransition.

    A target that is not a status of the machine at all is a ValueError (a 400
    ``validation_error`` at the API, not a 409), as is an unknown current state. Staying in the
    same state is not a transition and is refused like any other disallowed move.
    """
    allowed = _transitions(machine, current)
    if target not in _MACHINES[machine]:
        raise ValueError(f"unknown {machine} status {str(target)!r}")
    if target not in allowed:
        raise InvalidTransition(current, target, tuple(sorted(allowed)))
