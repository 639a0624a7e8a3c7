"""SQL for corrective actions (SPEC §5 Actions). Every value is a bound parameter; only
vetted column names are spliced. The history lives in `storage/history.py`."""

from __future__ import annotations

import apsw

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.ports import ACTION_SORTABLE, ActionFilter, Row
from reliatic_appliance.storage import listing

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
SORTABLE_COLUMNS: frozenset[str] = frozenset(ACTION_SORTABLE)
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


def _conditions(flt: ActionFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("status", flt.status),
        listing.equals("priority", flt.priority),
        listing.equals("assignee_id", flt.assignee_id),
        listing.equals("asset_id", flt.asset_id),
        _overdue(flt.overdue, flt.today),
        listing.at_least("updated_at", flt.updated_since),
    ]


class SqliteActions:
    """SQLite: corrective actions of one tenant (SPEC §5 Actions)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get_action(self, action_id: str) -> Row | None:
        return self._conn.execute(_SELECT + " WHERE id = ?", (action_id,)).fetchone()

    def list_actions(
        self, flt: ActionFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._conn,
            select=_SELECT,
            table="actions",
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_action(self, action: Row) -> None:
        self._conn.execute(
            f"INSERT INTO actions ({', '.join(_INSERT_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})",
            [action.get(c) for c in _INSERT_COLUMNS],
        )

    def update_action(self, action_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in UPDATABLE_COLUMNS if c in changes]
        assignments = "".join(f"{c} = ?, " for c in columns)
        if "due_date" in changes:
            # A new due date is a new SLA: its levels are raised afresh when it passes (§7).
            assignments += "escalation_level = 0, "
        self._conn.execute(
            f"UPDATE actions SET {assignments}updated_at = ? WHERE id = ?",
            [*(changes[c] for c in columns), updated_at, action_id],
        )

    def set_status(
        self,
        action_id: str,
        status: str,
        updated_at: str,
        *,
        reset_escalation: bool = False,
    ) -> None:
        """Move to `status`; `reset_escalation` restarts the SLA levels (rework, SPEC §6/§7)."""
        if reset_escalation:
            self._conn.execute(
                "UPDATE actions SET status = ?, escalation_level = 0, updated_at = ? WHERE id = ?",
                (status, updated_at, action_id),
            )
        else:
            self._conn.execute(
                "UPDATE actions SET status = ?, updated_at = ? WHERE id = ?",
                (status, updated_at, action_id),
            )

    def asset_of(self, table: str, row_id: str) -> str | None:
        """The asset a failure mode or inspection belongs to (None if the row is missing)."""
        if table not in _OWNED_BY_ASSET:
            raise ValueError(f"not a table owned by an asset: {table}")
        row = self._conn.execute(f"SELECT asset_id FROM {table} WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else row["asset_id"]
