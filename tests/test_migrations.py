"""Migrations that rebuild a table keep every row, reference and rule of the old one.

0008 rebuilds `assets` to add its stored `representation` (issue 16), the first migration
that needs foreign keys off: a file as release 7 left it, with assets that inspections and
the search index point at, must come out with the same rows under the same rowids, its
counts and search triggers working, and foreign keys enforced again.
"""

from __future__ import annotations

import json
from pathlib import Path

import apsw
import pytest

from reliatic_appliance.storage import assets as asset_store
from reliatic_appliance.storage.migrate import (
    Migration,
    apply_migrations,
    apply_one,
    current_version,
    load_migrations,
)
from reliatic_appliance.storage.sqlite import connect

pytestmark = pytest.mark.sqlite_only("SQLite tenant files' migrations")

BEFORE_REPRESENTATION = 7
STAMP = "2026-01-02T03:04:05.000000Z"


def _asset(conn: apsw.Connection, n: int, **extra: object) -> str:
    asset_id = f"ast_{n:026d}"
    fields = {
        "id": asset_id,
        "tag_number": f"V-{n}",
        "name": f"Vessel {n}",
        "asset_type": "vessel" if n % 2 else "tank",
        "description": f"Separator {n} in sour water service",
        "created_at": STAMP,
        "updated_at": STAMP,
        **extra,
    }
    conn.execute(
        f"INSERT INTO assets ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
        list(fields.values()),
    )
    return asset_id


@pytest.fixture
def old_file(tmp_path: Path) -> apsw.Connection:
    """A tenant file at version 7, with rows that reference its assets."""
    conn = connect(tmp_path / "tenant.db")
    apply_migrations(conn, "tenant", upto=BEFORE_REPRESENTATION)
    assert current_version(conn) == BEFORE_REPRESENTATION
    for n in range(1, 41):
        _asset(conn, n, nominal_thickness_mm=12.5 + n, design_pressure_kpa=1890.0)
    conn.execute("DELETE FROM assets WHERE id = ?", ("ast_" + "0" * 24 + "07",))  # a rowid gap
    conn.execute(
        "INSERT INTO inspections (id, asset_id, inspection_type, inspection_date,"
        " inspector_name, effectiveness, created_at, updated_at)"
        " VALUES ('ins_1', ?, 'ut_scanning', '2025-01-01', 'J. Smith', 'A', ?, ?)",
        (f"ast_{3:026d}", STAMP, STAMP),
    )
    return conn


def _snapshot(conn: apsw.Connection) -> list[tuple[object, ...]]:
    columns = ", ".join(asset_store.COLUMNS)
    return [tuple(row.values()) for row in conn.execute(f"SELECT rowid, {columns} FROM assets")]


def test_the_rebuild_keeps_rows_rowids_and_rules(old_file: apsw.Connection) -> None:
    conn = old_file
    before = _snapshot(conn)
    counts = list(conn.execute("SELECT * FROM asset_counts ORDER BY status, asset_type"))

    assert apply_migrations(conn, "tenant") == len(load_migrations("tenant")) - 7

    assert _snapshot(conn) == before
    assert list(conn.execute("SELECT * FROM asset_counts ORDER BY status, asset_type")) == counts
    for row in conn.execute(f"SELECT {', '.join(asset_store.COLUMNS)}, representation FROM assets"):
        stored = json.loads(row.pop("representation"))
        assert list(stored) == list(asset_store.COLUMNS)
        assert stored == row
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()["integrity_check"] == "ok"
    # The search index still finds rows by their (kept) rowids.
    found = conn.execute(
        "SELECT a.id FROM asset_search JOIN assets AS a ON a.rowid = asset_search.rowid"
        " WHERE asset_search MATCH '\"v-12\"'"
    ).fetchall()
    assert [r["id"] for r in found] == [f"ast_{12:026d}"]
    # The triggers are back: a new asset is counted and searchable, a change re-made.
    new_id = _asset(conn, 99)
    assert conn.execute(
        "SELECT n FROM asset_counts WHERE status = 'active' AND asset_type = 'vessel'"
    ).fetchone()["n"] == next(c["n"] + 1 for c in counts if c["asset_type"] == "vessel")
    assert conn.execute("SELECT rowid FROM asset_search WHERE asset_search MATCH '\"v-99\"'")
    conn.execute("UPDATE assets SET name = 'Renamed' WHERE id = ?", (new_id,))
    stored = conn.execute("SELECT representation FROM assets WHERE id = ?", (new_id,)).fetchone()
    assert json.loads(stored["representation"])["name"] == "Renamed"
    # Foreign keys are enforced again on this connection.
    with pytest.raises(apsw.ConstraintError):
        conn.execute(
            "INSERT INTO inspections (id, asset_id, inspection_type, inspection_date,"
            " inspector_name, effectiveness, created_at, updated_at)"
            " VALUES ('ins_2', 'ast_nobody', 'ut_scanning', '2025-01-01', 'J. Smith', 'A', ?, ?)",
            (STAMP, STAMP),
        )


def test_a_rebuild_that_would_break_a_reference_changes_nothing(
    old_file: apsw.Connection,
) -> None:
    conn = old_file
    breaking = Migration(
        BEFORE_REPRESENTATION + 1,
        "drops_a_referenced_asset",
        "-- reliatic: foreign_keys off\nDELETE FROM assets WHERE id = 'ast_" + "0" * 25 + "3';",
    )
    assert breaking.foreign_keys_off
    conn.execute("PRAGMA foreign_keys = OFF")
    with pytest.raises(RuntimeError, match="pointing at no row of assets"):
        apply_one(conn, breaking)
    conn.execute("PRAGMA foreign_keys = ON")
    assert current_version(conn) == BEFORE_REPRESENTATION
    assert conn.execute("SELECT COUNT(*) AS n FROM assets").fetchone()["n"] == 39
