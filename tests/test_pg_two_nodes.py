"""Two `reliatic serve` processes on one PostgreSQL database (SPEC §11, issue 15).

Each node is a real subprocess with its own data dir; the second's is a copy of the first's
(the master key in `secret/` moves with the data dir, so both can unseal webhook secrets), and
both point at the same database. Checked against a real local webhook receiver:

- every outbox delivery is sent exactly once, though both schedulers claim from one outbox
  (`FOR UPDATE SKIP LOCKED` and a lease, storage/postgresql/webhooks.py);
- a key revoked through one node is refused by the other on its next request;
- an Idempotency-Key replays across nodes: the same response, and the work done once;
- a node killed mid-send strands nothing: once its leases run out, the other node sends
  what it held (at least once, under the same delivery ids).

The figures (deliveries, duplicates, time, who sent what) are printed for the note: run with
`-s` to see them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.storage.layout import initialise
from tests.conftest import make_settings, open_api
from tests.pg_cluster import backend_env
from tests.process import Server, start_server
from tests.test_webhooks import FAST
from tests.webhook_receiver import Receiver, wait_for

pytestmark = pytest.mark.postgresql_only

EVENTS = 200
ENV = {
    **FAST,
    # Room to SIGKILL a node while its sends hang (a delivery's lease is this + 30 s).
    "RELIATIC_WEBHOOKS_TIMEOUT_SECONDS": "2",
    "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000",
    "RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "100000",
}


@pytest.fixture
async def nodes(
    tmp_path: Path, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> AsyncIterator[tuple[Server, Server, str]]:
    """Two servers on one database, and a key of tenant `acme` that may manage webhooks and
    keys (made in-process on that database, by an app without a scheduler)."""
    first_dir, second_dir = tmp_path / "node1" / "data", tmp_path / "node2" / "data"
    initialise(first_dir)
    setup = await aiohttp_client(create_app(make_settings(first_dir), run_scheduler=False))
    key = (await open_api(setup, ["webhooks:write", "api_keys:write"])).key
    await setup.close()
    shutil.copytree(first_dir, second_dir)  # the master key moves with the data dir
    shared = backend_env(first_dir)  # the second node on the first's database
    first = await asyncio.to_thread(start_server, first_dir, ENV)
    try:
        second = await asyncio.to_thread(start_server, second_dir, {**ENV, **shared})
        try:
            yield first, second, key
        finally:
            await asyncio.to_thread(second.stop)
    finally:
        await asyncio.to_thread(first.stop)


async def call(
    node: Server, method: str, path: str, key: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], Any]:
    """A request to a node off the event loop: the receiver runs on it meanwhile."""
    return await asyncio.to_thread(node.request, method, path, key=key, body=body, headers=headers)


def delivered_by(node: Server) -> int:
    """Attempts this node's scheduler delivered, from its own /metrics (loopback: no key)."""
    with urllib.request.urlopen(node.base + "/metrics", timeout=30) as response:
        text = response.read().decode()
    found = re.search(r'^reliatic_webhook_attempts_total\{outcome="delivered"\} (\S+)$', text, re.M)
    return int(float(found[1])) if found else 0


async def test_two_nodes_share_one_outbox_keys_and_idempotency(
    nodes: tuple[Server, Server, str], receiver: Receiver
) -> None:
    first, second, key = nodes
    status, _, body = await call(
        first,
        "POST",
        "/api/v1/webhooks",
        key,
        {"url": receiver.url("/two-nodes"), "events": ["asset.created"]},
    )
    assert status == 201, body
    webhook_id = body["data"]["id"]

    # Events written through both nodes at once, while both schedulers tick every 50 ms.
    started = time.monotonic()
    gate = asyncio.Semaphore(8)

    async def post(n: int) -> None:
        async with gate:
            node = first if n % 2 else second
            asset = {"tag_number": f"N-{n:04d}", "name": "pump", "asset_type": "rotating"}
            status, _, body = await call(node, "POST", "/api/v1/assets", key, asset)
            assert status == 201, body

    await asyncio.gather(*(post(n) for n in range(EVENTS)))
    written = time.monotonic() - started
    await wait_for(
        lambda: len({r.headers["webhook-id"] for r in receiver.on("/two-nodes")}) >= EVENTS,
        within=60,
    )
    all_received = time.monotonic() - started

    async def succeeded() -> int:
        _, _, page = await call(
            first, "GET", f"/api/v1/webhooks/{webhook_id}/deliveries?status=succeeded", key
        )
        return int(page["meta"]["total"])

    for _ in range(300):  # their records trail the sends a little
        if await succeeded() >= EVENTS:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # many more ticks of both: still nothing is sent twice

    hits = receiver.on("/two-nodes")
    per_delivery = Counter(r.headers["webhook-id"] for r in hits)
    per_event = Counter(r.payload["id"] for r in hits)
    sent_by = [await asyncio.to_thread(delivered_by, node) for node in (first, second)]
    duplicates = len(hits) - len(per_delivery)
    print(
        f"\ntwo nodes, one database: {EVENTS} events written through both nodes in "
        f"{written:.2f} s; {len(hits)} webhook hits, {len(per_delivery)} distinct deliveries, "
        f"{duplicates} duplicates; all received {all_received:.2f} s after the first write; "
        f"delivered by node 1: {sent_by[0]}, node 2: {sent_by[1]}"
    )
    assert await succeeded() == EVENTS
    assert len(per_delivery) == EVENTS and duplicates == 0, per_delivery.most_common(3)
    assert len(per_event) == EVENTS and set(per_event.values()) == {1}
    assert all(sent_by) and sum(sent_by) == EVENTS, sent_by  # both really competed

    # A key revoked through node 1 is refused by node 2 on its very next request.
    status, _, body = await call(
        first, "POST", "/api/v1/api-keys", key, {"name": "short-lived", "level": "read_only"}
    )
    assert status == 201, body
    doomed, doomed_id = body["data"]["key"], body["data"]["id"]
    assert (await call(second, "GET", "/api/v1/assets", doomed))[0] == 200
    assert (await call(first, "DELETE", f"/api/v1/api-keys/{doomed_id}", key))[0] == 200
    status, _, body = await call(second, "GET", "/api/v1/assets", doomed)
    assert status == 401 and body["error"] == "invalid_api_key"
    print("revoked through node 1: node 2's next request answered 401 invalid_api_key")

    # An Idempotency-Key replays across nodes: the same response, one asset.
    asset = {"tag_number": "IDEM-1", "name": "vessel", "asset_type": "vessel"}
    headers = {"Idempotency-Key": "two-nodes-1"}
    one = await call(first, "POST", "/api/v1/assets", key, asset, **headers)
    two = await call(second, "POST", "/api/v1/assets", key, asset, **headers)
    assert one[0] == two[0] == 201, (one, two)
    assert one[2]["data"] == two[2]["data"]
    assert one[1]["ETag"] == two[1]["ETag"] and one[1]["Location"] == two[1]["Location"]
    _, _, page = await call(second, "GET", "/api/v1/assets?search=IDEM-1", key)
    assert page["meta"]["total"] == 1
    other = await call(second, "POST", "/api/v1/assets", key, {**asset, "name": "x"}, **headers)
    assert other[0] == 409 and other[2]["error"] == "conflict"
    print("Idempotency-Key: POST to node 1, the same to node 2: the same 201, one asset")


async def test_what_a_killed_node_held_is_sent_by_the_other_once_its_lease_runs_out(
    nodes: tuple[Server, Server, str], receiver: Receiver
) -> None:
    first, second, key = nodes
    await asyncio.to_thread(first.stop)  # only the second node's scheduler claims
    receiver.hang.add("/stuck")
    status, _, body = await call(
        second,
        "POST",
        "/api/v1/webhooks",
        key,
        {"url": receiver.url("/stuck"), "events": ["asset.created"]},
    )
    assert status == 201, body
    for n in range(5):
        asset = {"tag_number": f"K-{n}", "name": "pump", "asset_type": "rotating"}
        assert (await call(second, "POST", "/api/v1/assets", key, asset))[0] == 201
    await wait_for(lambda: len(receiver.on("/stuck")) >= 1)  # claimed, and sending
    killed = time.monotonic()
    await asyncio.to_thread(second.stop, signal.SIGKILL)
    before = len(receiver.on("/stuck"))
    stranded = {r.headers["webhook-id"] for r in receiver.on("/stuck")}
    receiver.hang.discard("/stuck")

    restarted = await asyncio.to_thread(start_server, first.data_dir, ENV)
    try:

        def answered() -> set[str]:
            return {r.headers["webhook-id"] for r in receiver.on("/stuck")[before:]}

        await wait_for(lambda: len(answered()) >= 5, within=60)
        took = time.monotonic() - killed
    finally:
        await asyncio.to_thread(restarted.stop)
    per_event: dict[str, set[str]] = {}
    for hit in receiver.on("/stuck"):
        per_event.setdefault(hit.payload["id"], set()).add(hit.headers["webhook-id"])
    print(
        f"\nnode 2 SIGKILLed holding 5 leased deliveries ({len(stranded)} mid-send): node 1"
        f" sent all 5 {took:.1f} s later (lease = timeout 2 s + 30 s margin)"
    )
    assert stranded <= answered()  # the same deliveries, sent again: at least once
    assert len(per_event) == 5 and all(len(ids) == 1 for ids in per_event.values())


async def test_one_idempotency_key_sent_to_both_nodes_at_once_does_the_work_once(
    nodes: tuple[Server, Server, str],
) -> None:
    """The in-process single flight (api/inflight.py) cannot hold a request on another
    node: the record itself, checked under the tenant's write lock, must."""
    first, second, key = nodes
    pairs = 20

    async def both(n: int) -> tuple[Any, Any]:
        asset = {"tag_number": f"RACE-{n}", "name": "vessel", "asset_type": "vessel"}
        headers = {"Idempotency-Key": f"race-{n}"}
        return await asyncio.gather(
            call(first, "POST", "/api/v1/assets", key, asset, **headers),
            call(second, "POST", "/api/v1/assets", key, asset, **headers),
        )

    results = await asyncio.gather(*(both(n) for n in range(pairs)))
    _, _, page = await call(first, "GET", "/api/v1/assets?search=RACE-&per_page=100", key)
    replayed = sum(1 for one, two in results for r in (one, two) if r[1].get("Idempotent-Replayed"))
    print(
        f"\n{pairs} keys, each sent to both nodes at once: {page['meta']['total']} assets, "
        f"{replayed} replays"
    )
    for one, two in results:
        assert one[0] == two[0] == 201, (one, two)
        assert one[2]["data"] == two[2]["data"]
    assert page["meta"]["total"] == pairs
