"""SQL for the tenant's event table (SPEC §7)."""

from __future__ import annotations

import json
from typing import Any

import apsw
import pydantic_core

from reliatic_appliance.storage import listing
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
            # pydantic-core: every write emits an event, and this is several times faster.
            pydantic_core.to_json(event["data"]).decode(),
            event["actor"],
            event["created_at"],
        ),
    )
    return int(conn.last_insert_rowid())


def count_events(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT COUNT(*) FROM events"))


def list_events(
    conn: apsw.Connection,
    *,
    after: int | None,
    event_type: str | None,
    updated_since: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """Events oldest first (the feed is read forwards from a cursor), with the total."""
    rows, total = listing.fetch_page(
        conn,
        select="SELECT id, type, resource_type, resource_id, data, created_at FROM events",
        table="events",
        conditions=[
            listing.Condition("id > ?", (after,)) if after is not None else None,
            listing.equals("type", event_type),
            listing.at_least("created_at", updated_since),
        ],
        sort=None,
        sortable=frozenset(),
        limit=limit,
        offset=offset,
    )
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows, total
