"""`kill -9` mid-stream loses no delivery (issue 5 "Done means", SPEC §7, §9).

The real `reliatic serve` process takes asset writes while the subscribed receiver is down
(503), is SIGKILLed with requests and deliveries in the air, and restarts on the same data
dir with the receiver back up. Every acknowledged (201) write's event must then arrive, and
each event under exactly one `delivery_id` (the same id may arrive more than once: at least
once, never two ids for one event).
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from reliatic_appliance.storage.sqlite import connect
from reliatic_appliance.storage.tenancy import tenant_file
from tests.pg_cluster import SESSION, backend_env
from tests.process import Server, cli, cli_json, start_server
from tests.test_webhooks import verify
from tests.webhook_receiver import Received, Receiver, wait_for

LOCAL_TARGETS = {
    "RELIATIC_WEBHOOKS_ALLOW_HTTP": "true",
    "RELIATIC_WEBHOOKS_ALLOW_LOOPBACK_TARGETS": "true",
}
SERVER_ENV = {
    **LOCAL_TARGETS,
    "RELIATIC_SCHEDULER_TICK_SECONDS": "0.05",
    # Long enough, in all, to outlast the outage and the restart: a delivery that spends
    # every retry ends `failed` and would (rightly) never be sent again.
    "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "[0.2, 0.2, 2, 8]",
    "RELIATIC_WEBHOOKS_TIMEOUT_SECONDS": "2",
    "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000",
}
WRITES = 40
KILL_AFTER = 20  # acknowledged writes before the SIGKILL; the other workers are mid-request
WORKERS = 4
# A delivery in flight at the kill stays leased for the timeout plus the runner's 30 s margin.
LEASED_WAIT = 2 + 30 + 10
UNLEASED_WAIT = 15


class AcceptingReceiver(Receiver):
    """Also keeps what it answered with 2xx: delivered, as opposed to merely attempted."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[Received] = []

    async def handle(self, request: web.Request) -> web.Response:
        response = await super().handle(request)
        if 200 <= response.status < 300:
            self.accepted.append(self.received[-1])  # no await since it was appended
        return response


@pytest.fixture
async def receiver(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[AcceptingReceiver]:
    rec = AcceptingReceiver()
    server = await aiohttp_server(rec.app())
    rec.base = str(server.make_url("")).rstrip("/")
    yield rec


async def write_until_killed(server: Server, key: str) -> list[str]:
    """POST assets from several workers; SIGKILL the server after KILL_AFTER 201s.

    Returns the ids of the acknowledged assets. Requests in the air at the kill fail with a
    connection error: not acknowledged, so the client would retry them (they may or may not
    have committed; either way they are not counted).
    """
    acknowledged: list[str] = []
    numbers = iter(range(WRITES))
    headers = {"Authorization": f"Bearer {key}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        for n in numbers:
            body = {"tag_number": f"K-{n:03d}", "name": "Crash test", "asset_type": "tank"}
            try:
                async with session.post(
                    f"{server.base}/api/v1/assets", json=body, headers=headers
                ) as response:
                    if response.status != 201:
                        raise AssertionError(await response.text())
                    acknowledged.append((await response.json())["data"]["id"])
            except (aiohttp.ClientError, ConnectionError):
                return  # the server is gone
            if len(acknowledged) >= KILL_AFTER and server.process.poll() is None:
                server.process.send_signal(signal.SIGKILL)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(worker(session) for _ in range(WORKERS)))
    server.process.wait()
    return acknowledged


def outbox_after_the_kill(data_dir: Path, tenant_id: str) -> dict[str, Any]:
    """What the dead server left on disk: events, and the outbox rows still to be sent."""
    events_sql = "SELECT id, resource_id FROM events WHERE type = 'asset.created'"
    outbox_sql = "SELECT event_id, status, lease_owner FROM webhook_deliveries"
    if SESSION.backend == "postgresql":
        import psycopg  # the optional extra: only on this backend
        from psycopg.rows import dict_row

        dsn = backend_env(data_dir)["RELIATIC_STORAGE_DSN"]
        with psycopg.connect(dsn, row_factory=dict_row) as pg, pg.transaction():
            # The server's role under row level security: the tenant's rows, as it sees them.
            pg.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))
            found = pg.execute(events_sql).fetchall()
            rows = pg.execute(outbox_sql).fetchall()
    else:
        conn = connect(tenant_file(data_dir, tenant_id))
        try:
            found = list(conn.execute(events_sql))
            rows = list(conn.execute(outbox_sql))
        finally:
            conn.close()
    events = {row["resource_id"]: row["id"] for row in found}
    return {
        "events": events,
        "outbox": {row["event_id"] for row in rows},
        "leased": sum(1 for row in rows if row["lease_owner"] is not None),
        "done": sum(1 for row in rows if row["status"] != "pending"),
    }


async def test_sigkill_mid_stream_loses_no_acknowledged_event(
    tmp_path: Path, receiver: AcceptingReceiver
) -> None:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    tenant = cli_json(data_dir, "tenant", "create", "acme")
    key = cli_json(
        data_dir, "key", "create", "--tenant", "acme", "--name", "crash", "--level", "read_write"
    )["key"]
    receiver.status["/cmms"] = 503  # down
    hook = cli_json_env(
        data_dir,
        "webhook",
        "add",
        "--tenant",
        "acme",
        "--url",
        receiver.url("/cmms"),
        "--event",
        "asset.created",
    )

    server = await asyncio.to_thread(start_server, data_dir, SERVER_ENV)
    try:
        acknowledged = await write_until_killed(server, key)
    finally:
        server.stop(signal.SIGKILL)
    assert KILL_AFTER <= len(acknowledged) < WRITES

    # On disk: every acknowledged write has its event and its outbox row (same transaction).
    left = await asyncio.to_thread(outbox_after_the_kill, data_dir, tenant["id"])
    assert set(acknowledged) <= set(left["events"])
    assert {left["events"][asset] for asset in acknowledged} <= left["outbox"]
    assert left["done"] == 0  # the receiver was down: nothing was delivered before the kill

    del receiver.status["/cmms"]  # the receiver is back
    restarted = await asyncio.to_thread(start_server, data_dir, SERVER_ENV)
    try:
        # The acknowledged writes' events, and any the kill cut off after COMMIT.
        committed = set(left["events"].values())

        def arrived() -> set[int]:
            return {int(r.payload["id"]) for r in receiver.accepted}

        # Deliveries that were in flight at the kill wait for their lease to run out.
        within = LEASED_WAIT if left["leased"] else UNLEASED_WAIT
        await wait_for(lambda: committed <= arrived(), within=within)
    finally:
        restarted.stop()

    ids_per_event: dict[str, set[str]] = defaultdict(set)
    for got in receiver.received:
        payload = verify(got, hook["secret"])
        assert payload["type"] == "asset.created"
        assert got.headers["webhook-id"] == payload["delivery_id"]
        ids_per_event[payload["id"]].add(payload["delivery_id"])
    assert all(len(ids) == 1 for ids in ids_per_event.values()), ids_per_event
    assert set(ids_per_event) == {str(e) for e in committed}


def cli_json_env(data_dir: Path, *args: str) -> Any:
    result = cli(data_dir, *args, "--json", env=LOCAL_TARGETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
