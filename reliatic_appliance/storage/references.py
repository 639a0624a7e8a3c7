"""Does a row a request refers to exist in this tenant's file? (Foreign-key checks.)"""

from __future__ import annotations

import apsw

# The tables a request may name by id; the only table names this module ever splices.
TABLES: frozenset[str] = frozenset(
    {"assets", "inspections", "failure_modes", "actions", "risk_assessments", "mocs"}
)


class SqliteReferences:
    """SQLite: existence checks for ids named in request bodies (SPEC §5)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def exists(self, table: str, row_id: str) -> bool:
        if table not in TABLES:
            raise ValueError(f"not a referable table: {table}")
        return (
            self._conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone()
            is not None
        )
