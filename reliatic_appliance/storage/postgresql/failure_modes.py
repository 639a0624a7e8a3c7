"""PostgreSQL: failure modes (FMEA, SPEC §5), the port of `storage/failure_modes.py`.

Every value is a bound parameter; only the vetted column names below are spliced.
"""

from __future__ import annotations

from reliatic_appliance.ports import FailureModeFilter, Row
from reliatic_appliance.storage.failure_modes import (
    COMPUTED_COLUMNS,
    SORTABLE_COLUMNS,
    WRITABLE_COLUMNS,
)
from reliatic_appliance.storage.postgresql import listing
from reliatic_appliance.storage.postgresql.listing import Cursor
from reliatic_appliance.storage.postgresql.rows import insert_row, update_row

# The column lists are SQLite's (one source of truth for what a write may touch).
_INSERT_COLUMNS: tuple[str, ...] = (
    "id",
    "asset_id",
    *WRITABLE_COLUMNS,
    *COMPUTED_COLUMNS,
    "created_at",
    "updated_at",
)
# Response field order: the scores, then what they compute, then the prose.
_SELECT = (
    "SELECT id, asset_id, description, severity, occurrence, detection, "
    + ", ".join(COMPUTED_COLUMNS)
    + ", failure_mechanism, effect, cause, current_controls, created_at, updated_at"
    " FROM failure_modes"
)


def _conditions(flt: FailureModeFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("asset_id", flt.asset_id),
        listing.at_least("rpn", flt.rpn_min),
        listing.at_most("rpn", flt.rpn_max),
        listing.equals("priority", flt.priority),
        listing.equals("action_priority", flt.action_priority),
        listing.at_least("updated_at", flt.updated_since),
    ]


class PgFailureModes:
    """PostgreSQL: FMEA failure modes of one tenant (SPEC §5)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def get_failure_mode(self, failure_mode_id: str) -> Row | None:
        return self._cur.execute(
            _SELECT + " WHERE tenant_id = %s AND id = %s", (self._tenant_id, failure_mode_id)
        ).fetchone()

    def list_failure_modes(
        self, flt: FailureModeFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._cur,
            select=_SELECT,
            table="failure_modes",
            tenant_id=self._tenant_id,
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_failure_mode(self, row: Row) -> None:
        insert_row(self._cur, "failure_modes", self._tenant_id, _INSERT_COLUMNS, row)

    def update_failure_mode(self, failure_mode_id: str, changes: Row, updated_at: str) -> None:
        update_row(
            self._cur,
            "failure_modes",
            self._tenant_id,
            failure_mode_id,
            WRITABLE_COLUMNS + COMPUTED_COLUMNS,
            changes,
            updated_at,
        )

    def delete_failure_mode(self, failure_mode_id: str, at: str) -> bool:
        """Hard delete; the actions that referred to it stay, detached (True if it existed).

        The foreign key's ON DELETE SET NULL would detach them too, but silently: clearing the
        reference here first also moves their `updated_at`, so an `updated_since` sync of
        actions (SPEC §3) sees that `failure_mode_id` became null.
        """
        self._cur.execute(
            "UPDATE actions SET failure_mode_id = NULL, updated_at = %s"
            " WHERE tenant_id = %s AND failure_mode_id = %s",
            (at, self._tenant_id, failure_mode_id),
        )
        self._cur.execute(
            "DELETE FROM failure_modes WHERE tenant_id = %s AND id = %s",
            (self._tenant_id, failure_mode_id),
        )
        return self._cur.rowcount > 0
