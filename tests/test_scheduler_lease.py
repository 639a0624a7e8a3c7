"""The scheduler's guarantees (SPEC §7): a delivery is never sent twice at once, even by two
schedulers on one data dir (two processes started by mistake); a hung receiver never holds
up the others; readiness tells when the scheduler is gone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import apsw
import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.ids import new_id
from reliatic_appliance.keys import SCHEDULER, TENANT_DBS
from reliatic_appliance.ports import TenantDb
from reliatic_appliance.scheduler.claim import CLAIM_BATCH
from reliatic_appliance.storage.sqlite import connect, transaction
from reliatic_appliance.storage.tenancy import migrate_file
from reliatic_appliance.storage.webhooks import SqliteWebhooks
from tests.conftest import Api, create_asset, make_settings, open_api
from tests.test_webhooks import ADMIN, FAST, subscribe
from tests.webhook_receiver import Receiver, wait_for

EVENTS = 300


async def test_a_hung_receivers_backlog_does_not_starve_the_others(
    hooks_api: Api, receiver: Receiver
) -> None:
    """A hung subscription with more due rows than one claim takes, all older than the
    healthy one's: they must not fill every claim while its sends hang."""
    receiver.hang.add("/hung")
    await subscribe(hooks_api, receiver.url("/hung"), ["asset.created"])
    gate = asyncio.Semaphore(16)

    async def post(tag: str) -> None:
        async with gate:
            await create_asset(hooks_api, tag_number=tag)

    await asyncio.gather(*(post(f"S-{n:04d}") for n in range(CLAIM_BATCH + 44)))
    await subscribe(hooks_api, receiver.url("/healthy"), ["asset.created"])
    await asyncio.gather(*(post(f"T-{n:04d}") for n in range(20)))
    await wait_for(lambda: len(receiver.on("/healthy")) == 20, within=5)


@pytest.fixture
async def hooks_api(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Api:
    return await open_api(await aiohttp_client(create_app(make_settings(data_dir, FAST))), ADMIN)


async def undelivered(db: TenantDb) -> int:
    """Deliveries of the tenant still pending (through its store: either backend)."""
    pending, _ = await db.read(lambda tx: tx.webhooks.pending_backlog(), snapshot=False)
    return pending


async def test_two_schedulers_on_one_data_dir_send_each_delivery_once(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, receiver: Receiver
) -> None:
    settings = make_settings(data_dir, FAST)
    first = await open_api(await aiohttp_client(create_app(settings)), ADMIN)
    second_client = await aiohttp_client(create_app(settings))
    second = Api(client=second_client, tenant=first.tenant, key=first.key, key_id=first.key_id)
    await subscribe(first, receiver.url("/once"), ["asset.created"])

    # Events written through both apps at once, while both schedulers tick every 50 ms.
    gate = asyncio.Semaphore(16)

    async def post(n: int) -> None:
        async with gate:
            await create_asset(first if n % 2 else second, tag_number=f"P-{n:04d}")

    await asyncio.gather(*(post(n) for n in range(EVENTS)))
    await wait_for(lambda: len({r.headers["webhook-id"] for r in receiver.received}) >= EVENTS)
    db = await first.client.app[TENANT_DBS].get(first.tenant["id"])
    for _ in range(200):  # the outcomes are recorded a little after the sends
        if await undelivered(db) == 0:
            break
        await asyncio.sleep(0.05)
    assert await undelivered(db) == 0
    await asyncio.sleep(0.3)  # several more ticks of both: still nothing sent twice

    per_delivery = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(per_delivery) == EVENTS
    assert set(per_delivery.values()) == {1}, per_delivery.most_common(3)
    per_event = Counter(r.payload["id"] for r in receiver.received)
    assert len(per_event) == EVENTS and set(per_event.values()) == {1}
    # Both really competed for the same outbox.
    sent_by = [api.client.app[SCHEDULER].delivered for api in (first, second)]
    assert all(sent_by) and sum(sent_by) == EVENTS, sent_by


def outbox(path: Path, rows: int) -> list[str]:
    """A tenant file with one subscription and `rows` due deliveries; their ids."""
    migrate_file(path, "tenant")
    conn = connect(path)
    webhook_id = new_id("whk")
    ids = [new_id("dlv") for _ in range(rows)]
    with transaction(conn):
        SqliteWebhooks(conn).insert_webhook(
            {
                "id": webhook_id,
                "url": "https://10.0.0.1/x",
                "events": ["ping"],
                "description": None,
                "enabled": True,
                "secret_enc": b"x",
                "created_at": "2026-01-01T00:00:00.000000Z",
            },
        )
        for delivery_id in ids:
            SqliteWebhooks(conn).insert_delivery(
                {
                    "id": delivery_id,
                    "webhook_id": webhook_id,
                    "event_id": None,
                    "event_type": "ping",
                    "payload": "{}",
                    "next_attempt_at": "2026-01-01T00:00:00.000000Z",
                    "created_at": "2026-01-01T00:00:00.000000Z",
                },
            )
    conn.close()
    return ids


NOW = "2026-01-01T00:01:00.000000Z"
LEASE = "2026-01-01T00:02:00.000000Z"
AFTER_LEASE = "2026-01-01T00:03:00.000000Z"


def claim(conn: apsw.Connection, owner: str, now: str, limit: int = 7) -> list[str]:
    with transaction(conn):
        rows = SqliteWebhooks(conn).claim_due(owner=owner, now=now, lease_until=LEASE, limit=limit)
    return [row["id"] for row in rows]


@pytest.mark.sqlite_only(reason="claims on two apsw connections to one SQLite file")
def test_claim_due_never_hands_a_row_to_two_owners(tmp_path: Path) -> None:
    """Many claimers in threads, each with its own connection, racing for one outbox."""
    path = tmp_path / "tenant.db"
    ids = outbox(path, 2000)
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def claimer(owner: str) -> None:
        conn = connect(path, busy_timeout_ms=30_000)
        mine = claimed.setdefault(owner, [])
        try:
            start.wait()
            while batch := claim(conn, owner, NOW):
                mine += batch
                time.sleep(0.001)  # between claims, as between ticks: let the others in
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)
        finally:
            conn.close()

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


@pytest.mark.sqlite_only(reason="leases on an apsw connection to one SQLite file")
def test_a_lease_is_taken_over_only_when_it_expires(tmp_path: Path) -> None:
    path = tmp_path / "tenant.db"
    ids = outbox(path, 3)
    conn = connect(path)
    assert sorted(claim(conn, "a", NOW)) == sorted(ids)
    assert claim(conn, "b", NOW) == []  # leased: nobody else sends them
    assert claim(conn, "b", LEASE) == []  # still leased at the very end of the lease
    # "a" died mid-send: once the lease is over, "b" takes them (at least once, never lost).
    assert sorted(claim(conn, "b", AFTER_LEASE)) == sorted(ids)
    with transaction(conn):
        late = SqliteWebhooks(conn).finish_attempt(
            ids[0],
            owner="a",
            status="succeeded",
            next_attempt_at=None,
            http_status=200,
            error=None,
            now=AFTER_LEASE,
        )
    assert late is False  # the old owner's outcome does not overwrite the new owner's lease
    assert SqliteWebhooks(conn).get_delivery(ids[0])["lease_owner"] == "b"  # type: ignore[index]
    conn.close()


async def test_readiness_fails_when_the_scheduler_died_before_its_first_tick(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, tmp_path: Path
) -> None:
    healthy = await aiohttp_client(create_app(make_settings(data_dir)))
    assert (await healthy.get("/readyz")).status == 200
    # A CA bundle that is not PEM makes the scheduler's TLS setup fail before any tick.
    bundle = tmp_path / "not-a-bundle.pem"
    bundle.write_text("not a certificate\n")
    broken = await aiohttp_client(
        create_app(make_settings(data_dir, {"RELIATIC_WEBHOOKS_CA_BUNDLE": str(bundle)}))
    )
    scheduler = broken.app[SCHEDULER]
    await wait_for(lambda: not scheduler.alive(datetime.now(UTC)))
    assert scheduler.last_tick is None  # it never ticked: before the fix it counted as alive
    response = await broken.get("/readyz")
    assert response.status == 503
    assert (await response.json())["error"] == "unavailable"


async def test_stop_ends_the_loop_even_if_the_cancellation_is_lost(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    # Before Python 3.12, asyncio.wait_for swallows a cancellation that lands as its
    # future completes; the loop then ticked on and the app's cleanup waited for it
    # forever (a CI run hung in a teardown). `stop()` alone, with no cancellation at all,
    # must end the loop, and readiness must say so.
    client = await aiohttp_client(create_app(make_settings(data_dir, FAST)))
    scheduler = client.app[SCHEDULER]
    await wait_for(lambda: scheduler.last_tick is not None)
    scheduler.stop()
    await wait_for(lambda: not scheduler.alive(datetime.now(UTC)), within=5)
    assert (await client.get("/readyz")).status == 503
