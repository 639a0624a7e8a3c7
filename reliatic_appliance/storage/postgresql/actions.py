"""PostgreSQL: corrective actions (SPEC §5 Actions), the port of `storage/actions.py`.

Every value is a bound parameter; only the vetted column names below are spliced. The
history lives in `history.py`, the SLA bookkeeping in `sla.py`.
"""

from __future__ import annotations

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.ports import ActionFilter, Row
from reliatic_appliance.storage.actions import SORTABLE_COLUMNS, UPDATABLE_COLUMNS
from reliatic_appliance.storage.postgresql import listing
from reliatic_appliance.storage.postgresql.listing import Cursor
from reliatic_appliance.storage.postgresql.rows import insert_row, update_row

# The column lists are SQLite's (one source of truth for what a write may touch);
# `status` only changes through `set_status` (the state machine).
_INSERT_COLUMNS: tuple[str, ...] = ("id", *UPDATABLE_COLUMNS, "status", "created_at", "updated_at")
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
    statuses = list(OPEN_ACTION_STATUSES)
    if overdue:
        return listing.Condition("(due_date < %s AND status = ANY(%s))", (today, statuses))
    return listing.Condition(
        "(due_date IS NULL OR due_date >= %s OR status <> ALL(%s))", (today, statuses)
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


class PgActions:
    """PostgreSQL: corrective actions of one tenant (SPEC §5 Actions)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def get_action(self, action_id: str) -> Row | None:
        return self._cur.execute(
            _SELECT + " WHERE tenant_id = %s AND id = %s", (self._tenant_id, action_id)
        ).fetchone()

    def list_actions(
        self, flt: ActionFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._cur,
            select=_SELECT,
            table="actions",
            tenant_id=self._tenant_id,
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_action(self, action: Row) -> None:
        insert_row(self._cur, "actions", self._tenant_id, _INSERT_COLUMNS, action)

    def update_action(self, action_id: str, changes: Row, updated_at: str) -> None:
        # A new due date is a new SLA: its levels are raised afresh when it passes (§7).
        also = "escalation_level = 0" if "due_date" in changes else ""
        update_row(
            self._cur,
            "actions",
            self._tenant_id,
            action_id,
            UPDATABLE_COLUMNS,
            changes,
            updated_at,
            also=also,
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
        reset = ", escalation_level = 0" if reset_escalation else ""
        self._cur.execute(
            f"UPDATE actions SET status = %s{reset}, updated_at = %s"
            " WHERE tenant_id = %s AND id = %s",
            (status, updated_at, self._tenant_id, action_id),
        )

    def asset_of(self, table: str, row_id: str) -> str | None:
        """The asset a failure mode or inspection belongs to (None if the row is missing)."""
        if table not in _OWNED_BY_ASSET:
            raise ValueError(f"not a table owned by an asset: {table}")
        row = self._cur.execute(
            f"SELECT asset_id FROM {table} WHERE tenant_id = %s AND id = %s",
            (self._tenant_id, row_id),
        ).fetchone()
        return None if row is None else str(row["asset_id"])
