"""Status transitions shared by actions and MOCs (SPEC §5, §6 lifecycles).

Both resources have a state machine (`domain.lifecycle`), a `history` of every transition
(`{"from", "to", "comment", "at", "by"}`, oldest first) and a `<resource>.status_changed`
event. This module does that once: check the move, write the status and the history entry,
emit the event — all inside the caller's write transaction, so a refused move writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reliatic_appliance.domain.lifecycle import (
    InvalidTransition,
    Machine,
    check_transition,
    is_terminal,
)
from reliatic_appliance.errors import Conflict, NotFound, ValidationError
from reliatic_appliance.ports import HistoryKind, TenantTx
from reliatic_appliance.services.events import emit
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]
# (tx, id) -> the stored row without its history, or None.
Loader = Callable[[TenantTx, str], Row | None]
# (tx, id, current status, target status, at) -> None: write the new status.
StatusWriter = Callable[[TenantTx, str, str, str, str], None]


@dataclass(frozen=True)
class Lifecycle:
    """How one resource's rows are loaded, moved and announced."""

    machine: Machine
    noun: str  # for messages: "action", "MOC"
    resource_type: str  # the event's resource type
    event_type: str
    history: HistoryKind
    load: Loader
    write_status: StatusWriter


def not_found(lc: Lifecycle, resource_id: str) -> NotFound:
    return NotFound(f"{lc.noun[0].upper()}{lc.noun[1:]} {resource_id} not found.")


def check(lc: Lifecycle, current: str, target: str) -> None:
    """409 `conflict` naming both states and listing the allowed next ones (SPEC §5)."""
    try:
        check_transition(lc.machine, current, target)
    except InvalidTransition as exc:
        if exc.allowed:
            hint = f"allowed next: {', '.join(exc.allowed)}"
        else:
            hint = f"'{current}' is a final status"
        message = f"cannot change from '{current}' to '{target}'; {hint}"
        raise Conflict(
            f"Cannot change the {lc.noun}'s status from '{current}' to '{target}'; {hint}.",
            [
                {
                    "field": "status",
                    "message": message,
                    "current": current,
                    "allowed": list(exc.allowed),
                }
            ],
        ) from None
    except ValueError:
        # The request schema only lets the machine's statuses through; kept for callers
        # that bypass it (the CLI, the demo data).
        raise ValidationError.field("status", f"is not a {lc.noun} status") from None


def require_editable(lc: Lifecycle, row: Row) -> None:
    """A closed or cancelled record is final: its fields no longer change (409)."""
    status = row["status"]
    if is_terminal(lc.machine, status):
        raise Conflict(
            f"The {lc.noun} is {status}; a {status} {lc.noun} can no longer be changed.",
            [{"field": "status", "message": f"is {status} (final)", "current": status}],
        )


def with_history(tx: TenantTx, lc: Lifecycle, row: Row) -> Row:
    return {**row, "history": tx.history.for_owner(lc.history, row["id"])}


def with_histories(tx: TenantTx, lc: Lifecycle, rows: Sequence[Row]) -> list[Row]:
    """A page of rows, each with its history, in one history query."""
    histories = tx.history.for_owners(lc.history, [row["id"] for row in rows])
    return [{**row, "history": histories[row["id"]]} for row in rows]


def get(tx: TenantTx, lc: Lifecycle, resource_id: str) -> Row:
    """The row with its history, or 404."""
    row = lc.load(tx, resource_id)
    if row is None:
        raise not_found(lc, resource_id)
    return with_history(tx, lc, row)


def record_creation(
    tx: TenantTx,
    lc: Lifecycle,
    resource_id: str,
    status: str,
    *,
    actor: str | None,
    at: str,
) -> None:
    """The first history entry: `{"from": null, "to": <initial status>}`."""
    tx.history.append(
        lc.history,
        resource_id,
        from_status=None,
        to_status=status,
        comment=None,
        at=at,
        by=actor,
    )


def transition(
    tx: TenantTx,
    lc: Lifecycle,
    resource_id: str,
    target: str,
    comment: str | None,
    *,
    actor: str | None,
    now: datetime,
) -> Row:
    """Move one record to `target`: status, history entry and event in one transaction."""
    before = get(tx, lc, resource_id)
    current = before["status"]
    check(lc, current, target)
    at = format_ts(now)
    lc.write_status(tx, resource_id, current, target, at)
    tx.history.append(
        lc.history,
        resource_id,
        from_status=current,
        to_status=target,
        comment=comment,
        at=at,
        by=actor,
    )
    after = get(tx, lc, resource_id)
    emit(
        tx,
        event_type=lc.event_type,
        resource_type=lc.resource_type,
        resource_id=resource_id,
        before=before,
        after=after,
        actor=actor,
        at=at,
    )
    return after
