"""Action and MOC state machines (SPEC §6), with the open statuses SLA escalation uses (§7)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

Machine = Literal["action", "moc"]

# Lifecycle order (the happy path first, then the exits), for enums and docs.
ACTION_STATUSES: tuple[str, ...] = (
    "open",
    "in_progress",
    "on_hold",
    "completed",
    "verified",
    "closed",
    "cancelled",
)
MOC_STATUSES: tuple[str, ...] = (
    "draft",
    "submitted",
    "under_review",
    "approved",
    "implemented",
    "closed",
    "rejected",
    "cancelled",
)

ACTION_TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "open": frozenset({"in_progress", "on_hold", "cancelled"}),
        "in_progress": frozenset({"on_hold", "completed", "cancelled"}),
        "on_hold": frozenset({"in_progress", "cancelled"}),
        # completed -> in_progress is rework after a failed verification.
        "completed": frozenset({"verified", "in_progress"}),
        "verified": frozenset({"closed"}),
        "closed": frozenset(),
        "cancelled": frozenset(),
    }
)
MOC_TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "draft": frozenset({"submitted", "cancelled"}),
        "submitted": frozenset({"under_review", "cancelled"}),
        "under_review": frozenset({"approved", "rejected"}),
        "approved": frozenset({"implemented"}),
        "implemented": frozenset({"closed"}),
        # A rejected change goes back to its author for rework, not to the bin.
        "rejected": frozenset({"draft"}),
        "closed": frozenset(),
        "cancelled": frozenset(),
    }
)

# SPEC §7: SLA escalation applies to actions that are not completed, verified, closed or
# cancelled. Derived rather than listed so a new status cannot silently escape escalation.
_DONE_ACTION_STATUSES = frozenset({"completed", "verified", "closed", "cancelled"})
OPEN_ACTION_STATUSES: tuple[str, ...] = tuple(
    s for s in ACTION_STATUSES if s not in _DONE_ACTION_STATUSES
)

_MACHINES: Mapping[str, Mapping[str, frozenset[str]]] = MappingProxyType(
    {"action": ACTION_TRANSITIONS, "moc": MOC_TRANSITIONS}
)


class InvalidTransition(Exception):
    """A status change the state machine does not allow (HTTP 409 ``conflict``).

    ``allowed`` lists the states reachable from ``current``, sorted, for the error details.
    """

    def __init__(self, current: str, target: str, allowed: tuple[str, ...]) -> None:
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
        raise ValueError(f"unknown {machine} status {state!r}") from None


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
        raise ValueError(f"unknown {machine} status {target!r}")
    if target not in allowed:
        raise InvalidTransition(current, target, tuple(sorted(allowed)))
