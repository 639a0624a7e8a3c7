"""Idempotency-Key (SPEC §3): a retried write is done once and answered with the first
response; a reused key with another request is 409; 24 h, per API key, across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance import ports as store
from reliatic_appliance.app import create_app
from reliatic_appliance.keys import SCHEDULER, TENANT_DBS
from tests.conftest import (
    ASSET,
    Api,
    create_asset,
    events_of,
    make_settings,
    open_api,
    tenant_sql,
)
from tests.process import cli, cli_json, start_server
from tests.test_actions_api import create_action
from tests.test_webhooks import ADMIN, Clock

KEY = {"Idempotency-Key": "order-4711-create"}


async def count_assets(api: Api) -> int:
    response = await api.get("/api/v1/assets")
    return int((await response.json())["meta"]["total"])


async def records(api: Api) -> list[dict[str, Any]]:
    return await tenant_sql(api, "SELECT * FROM idempotency_keys")


async def test_a_retry_replays_the_first_response_without_redoing_the_work(api: Api) -> None:
    first = await api.post("/api/v1/assets", json=ASSET, headers=KEY)
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    again = await api.post("/api/v1/assets", json=ASSET, headers=KEY)
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert await again.json() == await first.json()
    assert await count_assets(api) == 1
    assert [e["type"] for e in await events_of(api)] == ["asset.created"]
    # Per request, not replayed: a fresh request id and rate-limit headers.
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    assert "X-RateLimit-Remaining" in again.headers


async def test_the_same_body_in_another_key_order_is_the_same_request(api: Api) -> None:
    await api.post("/api/v1/assets", json=ASSET, headers=KEY)
    reordered = json.dumps(dict(reversed(list(ASSET.items()))))
    again = await api.post(
        "/api/v1/assets",
        data=reordered,
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/api/v1/assets", {**ASSET, "name": "Other"}, id="other-body"),
        pytest.param("POST", "/api/v1/actions", {"title": "t", "priority": "low"}, id="other-path"),
    ],
)
async def test_a_key_reused_for_another_request_is_a_conflict(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    assert (await api.post("/api/v1/assets", json=ASSET, headers=KEY)).status == 201
    before = len(await events_of(api))
    response = await api.request(method, path, json=body, headers=KEY)
    assert response.status == 409
    error = await response.json()
    assert error["error"] == "conflict"
    assert [d["field"] for d in error["details"]] == ["Idempotency-Key"]
    assert len(await events_of(api)) == before


async def test_keys_are_per_api_key(api: Api) -> None:
    other_key, _ = await api.new_key()
    assert (await api.post("/api/v1/assets", json=ASSET, headers=KEY)).status == 201
    second = {**ASSET, "tag_number": "V-102"}
    response = await api.post("/api/v1/assets", json=second, headers=KEY, key=other_key)
    assert response.status == 201
    assert "Idempotent-Replayed" not in response.headers
    assert await count_assets(api) == 2


async def test_concurrent_requests_with_one_key_do_the_work_once(api: Api) -> None:
    responses = await asyncio.gather(
        *(api.post("/api/v1/assets", json=ASSET, headers=KEY) for _ in range(8))
    )
    assert [r.status for r in responses] == [201] * 8
    bodies = [await r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert await count_assets(api) == 1


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x" * 256, id="too-long"),
        pytest.param("naïve", id="not-ascii"),
        pytest.param("tab\there", id="control-char"),
    ],
)
async def test_a_malformed_key_is_a_validation_error_naming_the_header(
    api: Api, value: str
) -> None:
    response = await api.post("/api/v1/assets", json=ASSET, headers={"Idempotency-Key": value})
    assert response.status == 400
    assert [d["field"] for d in (await response.json())["details"]] == ["Idempotency-Key"]
    assert await count_assets(api) == 0


async def test_the_longest_key_is_accepted(api: Api) -> None:
    response = await api.post("/api/v1/assets", json=ASSET, headers={"Idempotency-Key": "k" * 255})
    assert response.status == 201


async def test_client_errors_are_replayed_too(api: Api) -> None:
    action = await create_action(api)
    path = f"/api/v1/actions/{action['id']}/status"
    refused = await api.put(path, json={"status": "verified"}, headers=KEY)
    assert refused.status == 409
    again = await api.put(path, json={"status": "verified"}, headers=KEY)
    assert again.status == 409
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await refused.json()


async def test_a_retried_status_change_is_not_refused_as_a_repeat(api: Api) -> None:
    action = await create_action(api)
    path = f"/api/v1/actions/{action['id']}/status"
    first = await api.put(path, json={"status": "in_progress"}, headers=KEY)
    assert first.status == 200
    again = await api.put(path, json={"status": "in_progress"}, headers=KEY)
    assert again.status == 200, await again.text()
    assert again.headers["Idempotent-Replayed"] == "true"
    history = (await (await api.get(f"/api/v1/actions/{action['id']}")).json())["data"]["history"]
    assert [h["to"] for h in history] == ["open", "in_progress"]


async def test_secrets_are_replayed_but_never_stored_in_clear(client: TestClient) -> None:
    api = await open_api(client, ADMIN)
    body = {"url": "https://cmms.example.invalid/hook", "events": ["asset.created"]}
    first = await api.post("/api/v1/webhooks", json=body, headers=KEY)
    assert first.status == 201
    secret = (await first.json())["data"]["secret"]
    again = await api.post("/api/v1/webhooks", json=body, headers=KEY)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Cache-Control"] == "no-store"
    assert (await again.json())["data"]["secret"] == secret
    (record,) = await records(api)
    assert secret.encode() not in record["body"]
    assert secret not in record["headers"]


async def test_public_and_read_operations_ignore_the_header(api: Api) -> None:
    assert (await api.client.get("/healthz", headers={"Idempotency-Key": "x" * 300})).status == 200
    assert (await api.get("/api/v1/assets", headers={"Idempotency-Key": "x" * 300})).status == 200
    assert await records(api) == []


async def test_a_record_left_in_progress_by_a_crash_is_redone(api: Api) -> None:
    """`in_progress` is only left behind when the work never committed (the `applied`
    mark commits with it), so the retry does the work."""
    first = await api.post("/api/v1/assets", json=ASSET, headers=KEY)
    asset_id = (await first.json())["data"]["id"]
    assert (await api.delete(f"/api/v1/assets/{asset_id}")).status == 200
    (record,) = await records(api)
    assert record["state"] == store.DONE
    # Simulate a crash between the claim and the work for another request.
    other = {**ASSET, "tag_number": "V-200"}
    claim = {"Idempotency-Key": "crashed"}
    assert (await api.post("/api/v1/assets", json=other, headers=claim)).status == 201
    await tenant_sql(
        api,
        "UPDATE idempotency_keys SET state = 'in_progress', status = NULL WHERE idem_key = ?",
        ("crashed",),
        write=True,
    )
    await tenant_sql(api, "DELETE FROM assets WHERE tag_number = 'V-200'", write=True)
    retry = await api.post("/api/v1/assets", json=other, headers=claim)
    assert retry.status == 201
    assert "Idempotent-Replayed" not in retry.headers


async def test_work_committed_but_response_lost_is_a_conflict_not_a_second_run(
    api: Api,
) -> None:
    response = await api.post("/api/v1/assets", json=ASSET, headers=KEY)
    assert response.status == 201
    await tenant_sql(
        api, "UPDATE idempotency_keys SET state = 'applied', status = NULL, body = NULL", write=True
    )
    retry = await api.post("/api/v1/assets", json=ASSET, headers=KEY)
    assert retry.status == 409
    assert "response was lost" in (await retry.json())["message"]
    assert await count_assets(api) == 1


async def test_the_work_is_marked_applied_in_its_own_transaction(api: Api) -> None:
    """The work and its `applied` mark are one write (no claim of its own before it), and
    the stored response a second: two trips to the writer in all."""
    seen: list[str] = []
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    original = db.write

    async def spy(fn: Callable[..., Any], **options: Any) -> Any:
        result = await original(fn, **options)
        seen.extend(r["state"] for r in await tenant_sql(api, "SELECT state FROM idempotency_keys"))
        return result

    db.write = spy  # type: ignore[method-assign]
    try:
        assert (await api.post("/api/v1/assets", json=ASSET, headers=KEY)).status == 201
    finally:
        del db.write
    assert seen == [store.APPLIED, store.DONE]


async def test_records_expire_after_24_hours_and_are_purged(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    clock = Clock()
    app = create_app(make_settings(data_dir), clock=clock, run_scheduler=True)
    api = await open_api(await aiohttp_client(app), [])
    assert (await api.post("/api/v1/assets", json=ASSET, headers=KEY)).status == 201
    clock.advance(hours=23, minutes=59)
    again = await api.post("/api/v1/assets", json=ASSET, headers=KEY)
    assert again.headers.get("Idempotent-Replayed") == "true"
    await app[SCHEDULER].run_housekeeping()
    assert len(await records(api)) == 1
    clock.advance(minutes=2)
    # Past 24 h the key is free again: this is a new request (here a duplicate tag: 409).
    fresh = await api.post("/api/v1/assets", json={**ASSET, "name": "Other"}, headers=KEY)
    assert fresh.status == 409
    assert "Idempotent-Replayed" not in fresh.headers
    assert (await fresh.json())["details"][0]["field"] == "tag_number"
    clock.advance(hours=25)
    await app[SCHEDULER].run_housekeeping()
    assert await records(api) == []


def test_a_replay_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    key = cli_json(
        data_dir, "key", "create", "--tenant", "acme", "--name", "k", "--level", "read_write"
    )["key"]
    server = start_server(data_dir)
    try:
        status, headers, first = server.request(
            "POST", "/api/v1/assets", key=key, body=ASSET, headers=KEY
        )
        assert status == 201
    finally:
        server.stop()
    server = start_server(data_dir)
    try:
        status, headers, again = server.request(
            "POST", "/api/v1/assets", key=key, body=ASSET, headers=KEY
        )
        _, _, listing = server.request("GET", "/api/v1/assets", key=key)
    finally:
        server.stop()
    assert status == 201
    assert headers["Idempotent-Replayed"] == "true"
    assert again == first
    assert listing["meta"]["total"] == 1


async def test_without_the_header_nothing_is_recorded(api: Api) -> None:
    await create_asset(api)
    assert await records(api) == []


async def test_one_key_sent_to_two_servers_at_once_does_the_work_once(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    """Two servers on one store (two nodes on PostgreSQL, two processes on one data dir):
    each single-flights only its own requests, so the record itself must hold the other's."""
    settings = make_settings(data_dir)
    first = await open_api(await aiohttp_client(create_app(settings)), [])
    other = await aiohttp_client(create_app(settings))
    second = Api(client=other, tenant=first.tenant, key=first.key, key_id=first.key_id)

    async def both(n: int) -> list[tuple[int, Any]]:
        headers = {"Idempotency-Key": f"race-{n}"}
        body = {**ASSET, "tag_number": f"RACE-{n}"}
        responses = await asyncio.gather(
            first.post("/api/v1/assets", json=body, headers=headers),
            second.post("/api/v1/assets", json=body, headers=headers),
        )
        return [(r.status, await r.json()) for r in responses]

    for one, two in await asyncio.gather(*(both(n) for n in range(10))):
        assert one[0] == two[0] == 201, (one, two)
        assert one[1]["data"] == two[1]["data"]
    assert await count_assets(first) == 10
