"""SQL for the tenant's event table (SPEC §7)."""

from __future__ import annotations

import json
from typing import Any

import apsw

from reliatic_appliance.storage.sqlite import scalar

Row = dict[str, Any]


def insert_event(conn: apsw.Connection, event: Row) -> int:
    conn.execute(
        "INSERT INTO events (type, resource_type, resource_id, data, actor, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            event["type"],
            event["resource_type"],
            event["resource_id"],
            json.dumps(event["data"], separators=(",", ":")),
            event["actor"],
            event["created_at"],
        ),
    )
    return int(conn.last_insert_rowid())


def count_events(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT COUNT(*) FROM events"))
