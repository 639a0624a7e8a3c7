"""SQL for corrective actions (SPEC §5 Actions). Every value is a bound parameter; only
vetted column names are spliced. The history lives in `storage/history.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.storage import listing

Row = dict[str, Any]

# Columns a PUT may change; `status` only changes through `set_status` (the state machine).
UPDATABLE_COLUMNS: tuple[str, ...] = (
    "title",
    "description",
    "priority",
    "asset_id",
    "failure_mode_id",
    "inspection_id",
    "assignee_id",
    "due_date",
)
_INSERT_COLUMNS: tuple[str, ...] = ("id", *UPDATABLE_COLUMNS, "status", "created_at", "updated_at")
SORTABLE_COLUMNS: frozenset[str] = frozenset({"created_at", "updated_at", "due_date"})
# `escalation_level` is the scheduler's bookkeeping (SPEC §7), not part of the API shape.
_SELECT = (
    "SELECT id, title, description, priority, status, asset_id, failure_mode_id,"
    " inspection_id, assignee_id, due_date, created_at, updated_at FROM actions"
)
# Tables whose rows an action may point at and that belong to one asset.
_OWNED_BY_ASSET: frozenset[str] = frozenset({"failure_modes", "inspections"})


def _overdue(overdue: bool | None, today: str | None) -> listing.Condition | None:
    """Past due (before `today`) and still open (SPEC §7 escalation's notion of open)."""
    if overdue is None:
        return None
    if today is None:
        raise ValueError("the overdue filter needs today's date")
    marks = ", ".join("?" * len(OPEN_ACTION_STATUSES))
    if overdue:
        return listing.Condition(
            f"(due_date < ? AND status IN ({marks}))", (today, *OPEN_ACTION_STATUSES)
        )
    return listing.Condition(
        f"(due_date IS NULL OR due_date >= ? OR status NOT IN ({marks}))",
        (today, *OPEN_ACTION_STATUSES),
    )


@dataclass(frozen=True)
class ActionFilter:
    status: str | None = None
    priority: str | None = None
    assignee_id: str | None = None
    asset_id: str | None = None
    overdue: bool | None = None
    today: str | None = None  # `YYYY-MM-DD` (UTC) the overdue filter compares with
    updated_since: str | None = None

    def conditions(self) -> list[listing.Condition | None]:
        return [
            listing.equals("status", self.status),
            listing.equals("priority", self.priority),
            listing.equals("assignee_id", self.assignee_id),
            listing.equals("asset_id", self.asset_id),
            _overdue(self.overdue, self.today),
            listing.at_least("updated_at", self.updated_since),
        ]


def get_action(conn: apsw.Connection, action_id: str) -> Row | None:
    return conn.execute(_SELECT + " WHERE id = ?", (action_id,)).fetchone()


def list_actions(
    conn: apsw.Connection, flt: ActionFilter, *, sort: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    return listing.fetch_page(
        conn,
        select=_SELECT,
        table="actions",
        conditions=flt.conditions(),
        sort=sort,
        sortable=SORTABLE_COLUMNS,
        limit=limit,
        offset=offset,
    )


def insert_action(conn: apsw.Connection, action: Row) -> None:
    conn.execute(
        f"INSERT INTO actions ({', '.join(_INSERT_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})",
        [action.get(c) for c in _INSERT_COLUMNS],
    )


def update_action(conn: apsw.Connection, action_id: str, changes: Row, updated_at: str) -> None:
    columns = [c for c in UPDATABLE_COLUMNS if c in changes]
    assignments = "".join(f"{c} = ?, " for c in columns)
    if "due_date" in changes:
        # A new due date is a new SLA: its levels are raised afresh when it passes (§7).
        assignments += "escalation_level = 0, "
    conn.execute(
        f"UPDATE actions SET {assignments}updated_at = ? WHERE id = ?",
        [*(changes[c] for c in columns), updated_at, action_id],
    )


def set_status(
    conn: apsw.Connection,
    action_id: str,
    status: str,
    updated_at: str,
    *,
    reset_escalation: bool = False,
) -> None:
    """Move to `status`; `reset_escalation` restarts the SLA levels (rework, SPEC §6/§7)."""
    if reset_escalation:
        conn.execute(
            "UPDATE actions SET status = ?, escalation_level = 0, updated_at = ? WHERE id = ?",
            (status, updated_at, action_id),
        )
    else:
        conn.execute(
            "UPDATE actions SET status = ?, updated_at = ? WHERE id = ?",
            (status, updated_at, action_id),
        )


def asset_of(conn: apsw.Connection, table: str, row_id: str) -> str | None:
    """The asset a failure mode or inspection belongs to (None if the row is missing)."""
    if table not in _OWNED_BY_ASSET:
        raise ValueError(f"not a table owned by an asset: {table}")
    row = conn.execute(f"SELECT asset_id FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return None if row is None else row["asset_id"]
