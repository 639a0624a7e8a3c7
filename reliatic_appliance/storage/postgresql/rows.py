"""One row of a tenant table written by its column list: the INSERT and the partial UPDATE
every resource store makes the same way. Column and table names come only from the stores'
own constants (never from a request); every value is a bound parameter."""

from __future__ import annotations

from collections.abc import Sequence

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql.listing import Cursor


def insert_row(cur: Cursor, table: str, tenant_id: str, columns: Sequence[str], row: Row) -> None:
    """`row`'s `columns` (missing ones NULL) as a new row of `tenant_id` in `table`."""
    cur.execute(
        f"INSERT INTO {table} (tenant_id, {', '.join(columns)}) VALUES (%s{', %s' * len(columns)})",
        [tenant_id, *(row.get(c) for c in columns)],
    )


def update_row(
    cur: Cursor,
    table: str,
    tenant_id: str,
    row_id: str,
    updatable: Sequence[str],
    changes: Row,
    updated_at: str,
    *,
    also: str = "",
) -> None:
    """Set the `updatable` columns present in `changes` and `updated_at` on one row; `also`
    is a further fixed assignment (`"escalation_level = 0"`) from the store's own code."""
    columns = [c for c in updatable if c in changes]
    assignments = "".join(f"{c} = %s, " for c in columns) + (f"{also}, " if also else "")
    cur.execute(
        f"UPDATE {table} SET {assignments}updated_at = %s WHERE tenant_id = %s AND id = %s",
        [*(changes[c] for c in columns), updated_at, tenant_id, row_id],
    )
