"""The outbox on PostgreSQL (SPEC §7, §11): what SQLite's single writer gave for free, several
nodes must get from the claim itself (`FOR UPDATE SKIP LOCKED` and a lease).

These drive `PgWebhooks` over plain connections of the server's role, each claim in its own
transaction and WITHOUT the tenant's advisory lock that `PgDatabase.write` takes: the claim
must be right on its own, whoever else is claiming.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from reliatic_appliance.ids import new_id
from reliatic_appliance.storage.postgresql import types
from reliatic_appliance.storage.postgresql.events import PgEvents
from reliatic_appliance.storage.postgresql.webhooks import PgWebhooks
from tests.pg_cluster import SESSION

pytestmark = pytest.mark.postgresql_only

TENANT = "ten_OUTBOX"
NOW = "2026-01-01T00:01:00.000000Z"
LEASE = "2026-01-01T00:02:00.000000Z"
AFTER_LEASE = "2026-01-01T00:03:00.000000Z"
Conn = psycopg.Connection[dict[str, Any]]


def connect(dsn: str) -> Conn:
    conn = psycopg.connect(dsn, row_factory=dict_row)
    types.configure(conn)  # autocommit, UTC, the loaders: as a pooled connection is set up
    return conn


@contextmanager
def tenant_tx(conn: Conn, tenant_id: str = TENANT) -> Iterator[PgWebhooks]:
    with conn.transaction():
        cur = conn.cursor()
        cur.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))
        yield PgWebhooks(cur, tenant_id)


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    return SESSION.database_for(tmp_path).dsn


def outbox(dsn: str, rows: int) -> list[str]:
    """One subscription with `rows` due deliveries (pings); their ids."""
    ids = [new_id("dlv") for _ in range(rows)]
    webhook_id = new_id("whk")
    with connect(dsn) as conn, tenant_tx(conn) as hooks:
        hooks.insert_webhook(
            {
                "id": webhook_id,
                "url": "https://10.0.0.1/x",
                "events": ["ping"],
                "description": None,
                "enabled": True,
                "secret_enc": b"x",
                "created_at": "2026-01-01T00:00:00.000000Z",
            }
        )
        hooks.insert_deliveries(
            [
                {
                    "id": delivery_id,
                    "webhook_id": webhook_id,
                    "event_id": None,
                    "event_type": "ping",
                    "payload": "{}",
                    "next_attempt_at": "2026-01-01T00:00:00.000000Z",
                    "created_at": "2026-01-01T00:00:00.000000Z",
                }
                for delivery_id in ids
            ]
        )
    return ids


def claim(conn: Conn, owner: str, now: str, limit: int = 7) -> list[str]:
    with tenant_tx(conn) as hooks:
        rows = hooks.claim_due(owner=owner, now=now, lease_until=LEASE, limit=limit)
    return [row["id"] for row in rows]


def test_claim_due_never_hands_a_row_to_two_owners(dsn: str) -> None:
    """Many claimers in threads, each with its own connection, racing for one outbox."""
    ids = outbox(dsn, 2000)
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def claimer(owner: str) -> None:
        mine = claimed.setdefault(owner, [])
        try:
            with connect(dsn) as conn:
                start.wait()
                while batch := claim(conn, owner, NOW):
                    mine += batch
                    time.sleep(0.001)
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"owner-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    every = [row for rows in claimed.values() for row in rows]
    assert len(every) == len(set(every)) == len(ids)  # each row to exactly one owner
    assert set(every) == set(ids)
    assert sum(1 for rows in claimed.values() if rows) > 1  # they really competed


def test_a_claim_skips_rows_another_claim_holds_instead_of_waiting(dsn: str) -> None:
    ids = outbox(dsn, 10)
    with connect(dsn) as first, connect(dsn) as second:
        # A lock wait on the second connection is an error, not a stall.
        second.execute("SET lock_timeout = '2s'")
        with tenant_tx(first) as held:
            mine = [r["id"] for r in held.claim_due(owner="a", now=NOW, lease_until=LEASE, limit=4)]
            started = time.monotonic()
            theirs = claim(second, "b", NOW, limit=100)
            assert time.monotonic() - started < 1
        assert len(mine) == 4 and len(theirs) == 6
        assert sorted(mine + theirs) == sorted(ids)
        assert claim(second, "b", NOW) == []  # "a"'s claim committed: its lease holds


def test_a_lease_is_taken_over_only_when_it_expires(dsn: str) -> None:
    ids = outbox(dsn, 3)
    with connect(dsn) as conn:
        assert sorted(claim(conn, "a", NOW)) == sorted(ids)
        assert claim(conn, "b", NOW) == []  # leased: nobody else sends them
        assert claim(conn, "b", LEASE) == []  # still leased at the very end of the lease
        # "a" died mid-send: once the lease is over, "b" takes them (at least once).
        assert sorted(claim(conn, "b", AFTER_LEASE)) == sorted(ids)
        with tenant_tx(conn) as hooks:
            late = hooks.finish_attempt(
                ids[0],
                owner="a",
                status="succeeded",
                next_attempt_at=None,
                http_status=200,
                error=None,
                now=AFTER_LEASE,
            )
            assert late is False  # the old owner's outcome does not overwrite the new lease
            assert (hooks.get_delivery(ids[0]) or {})["lease_owner"] == "b"


def test_another_tenants_claim_sees_none_of_these_rows(dsn: str) -> None:
    outbox(dsn, 3)
    with connect(dsn) as conn:
        assert claim(conn, "a", NOW) != []
        with tenant_tx(conn, "ten_OTHER") as hooks:
            assert hooks.claim_due(owner="x", now=AFTER_LEASE, lease_until=LEASE, limit=9) == []
            assert hooks.pending_backlog() == (0, None)


def test_a_bulk_import_writes_its_events_in_order_and_one_outbox_row_each(dsn: str) -> None:
    """`insert_events` and `insert_deliveries` (one statement each, over arrays): ids rise in
    the order given, JSON with quotes and non-ASCII survives, each row points at its event."""
    at = "2026-01-01T00:00:00.000000Z"
    events = [
        {
            "type": "asset.created",
            "resource_type": "asset",
            "resource_id": f"ast_{n:04d}",
            "data": {"after": {"name": f'Pump "{n}" \\ Ø'}},
            "actor": None if n % 2 else "key_1",
            "created_at": at,
        }
        for n in reversed(range(300))
    ]
    webhook_id = new_id("whk")
    with connect(dsn) as conn, conn.transaction():
        cur = conn.cursor()
        cur.execute("SELECT set_config('app.tenant_id', %s, true)", (TENANT,))
        ids = PgEvents(cur, TENANT).insert_events(events)
        hooks = PgWebhooks(cur, TENANT)
        hooks.insert_webhook(
            {
                "id": webhook_id,
                "url": "https://10.0.0.1/x",
                "events": ["asset.created"],
                "description": None,
                "enabled": True,
                "secret_enc": b"x",
                "created_at": at,
            }
        )
        hooks.insert_deliveries(
            [
                {
                    "id": f"dlv_{event_id:06d}",
                    "webhook_id": webhook_id,
                    "event_id": event_id,
                    "event_type": "asset.created",
                    "payload": None,
                    "next_attempt_at": at,
                    "created_at": at,
                }
                for event_id in ids
            ]
        )
        assert ids == sorted(ids) and len(set(ids)) == 300
        stored = hooks.event_rows(ids)
        for event_id, event in zip(ids, events, strict=True):
            assert stored[event_id]["resource_id"] == event["resource_id"]
            assert hooks.event_row(event_id)["data"] == event["data"]  # type: ignore[index]
        claimed = hooks.claim_due(owner="a", now=NOW, lease_until=LEASE, limit=500)
        assert sorted(row["event_id"] for row in claimed) == ids
