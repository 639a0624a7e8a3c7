"""Webhooks end to end (SPEC §7): subscriptions, signed deliveries to a real local receiver,
retries, disabling, rotation, the delivery log, redelivery, pings and retention."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from standardwebhooks.webhooks import Webhook as StandardWebhook

import reliatic_appliance
from reliatic_appliance.app import create_app
from reliatic_appliance.keys import SCHEDULER
from tests.conftest import ASSET, Api, create_asset, events_of, make_settings, open_api
from tests.webhook_receiver import Receiver, wait_for

FAST = {
    "RELIATIC_WEBHOOKS_ALLOW_HTTP": "true",
    "RELIATIC_WEBHOOKS_ALLOW_LOOPBACK_TARGETS": "true",
    "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "[0.1, 0.1, 0.1, 0.1]",
    "RELIATIC_WEBHOOKS_TIMEOUT_SECONDS": "1",
    "RELIATIC_SCHEDULER_TICK_SECONDS": "0.05",
}
ADMIN = ["webhooks:read", "webhooks:write"]


class Clock:
    """Real time plus an offset the test moves forward (writes stamp real time)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
async def hooks(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Api:
    client = await aiohttp_client(create_app(make_settings(data_dir, FAST)))
    return await open_api(client, ADMIN)


async def subscribe(api: Api, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/webhooks", json={"url": url, "events": events, **extra})
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def deliveries(api: Api, webhook_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/webhooks/{webhook_id}/deliveries?per_page=100")
    assert response.status == 200, await response.text()
    return (await response.json())["data"]


def verify(received: Any, secret: str) -> dict[str, Any]:
    """Check both signature styles; return the payload."""
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["X-Reliatic-Signature"] == expected
    standard_headers = {k.lower(): v for k, v in received.headers.items()}
    return StandardWebhook(secret).verify(received.body, standard_headers)  # type: ignore[no-any-return]


async def test_crud_and_secret_shown_once(hooks: Api, receiver: Receiver) -> None:
    created = await subscribe(hooks, receiver.url("/a"), ["asset.created"], description="CMMS")
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    listing = await (await hooks.get("/api/v1/webhooks")).json()
    assert created["secret"] not in json.dumps(listing)
    one = await (await hooks.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert "secret" not in one["data"]
    updated = await hooks.put(f"/api/v1/webhooks/{created['id']}", json={"enabled": False})
    assert (await updated.json())["data"]["enabled"] is False
    assert (await hooks.delete(f"/api/v1/webhooks/{created['id']}")).status == 204
    assert (await hooks.get(f"/api/v1/webhooks/{created['id']}")).status == 404


async def test_secrets_are_encrypted_at_rest(
    hooks: Api, receiver: Receiver, data_dir: Path
) -> None:
    created = await subscribe(hooks, receiver.url("/a"), ["asset.created"])
    raw = b"".join(p.read_bytes() for p in (data_dir / "tenants").glob("*"))
    assert created["secret"].encode() not in raw
    assert created["secret"][6:].encode() not in raw


async def test_domain_keys_cannot_manage_webhooks(hooks: Api, receiver: Receiver) -> None:
    key, _ = await hooks.new_key("read_write")
    response = await hooks.post(
        "/api/v1/webhooks", key=key, json={"url": receiver.url("/a"), "events": ["ping"]}
    )
    assert response.status in (400, 403)
    response = await hooks.get("/api/v1/webhooks", key=key)
    assert response.status == 403
    assert (await response.json())["message"].endswith("webhooks:read")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        pytest.param("http://169.254.169.254/latest/meta-data", "link-local", id="metadata"),
        pytest.param("https://0.0.0.0/x", "", id="zero-network"),
        pytest.param("https://224.0.0.1/x", "", id="multicast"),
        pytest.param("https://user:pw@cmms.local/x", "", id="credentials-in-url"),
        pytest.param("ftp://cmms.local/x", "", id="scheme"),
    ],
)
async def test_unsafe_targets_refused(hooks: Api, url: str, reason: str) -> None:
    response = await hooks.post("/api/v1/webhooks", json={"url": url, "events": ["asset.created"]})
    assert response.status == 400
    body = await response.json()
    assert body["details"][0]["field"] == "url"
    assert reason in body["details"][0]["message"]


async def test_https_and_loopback_rules_by_default(client: TestClient) -> None:
    api = await open_api(client, ADMIN)
    for url in ("http://cmms.plant.local/hook", "https://127.0.0.1/hook"):
        response = await api.post("/api/v1/webhooks", json={"url": url, "events": ["ping"]})
        assert response.status == 400, url
    ok = await api.post(
        "/api/v1/webhooks", json={"url": "https://10.1.2.3/hook", "events": ["asset.created"]}
    )
    assert ok.status == 201  # the plant LAN is allowed by default


async def test_bad_secret_refused(hooks: Api, receiver: Receiver) -> None:
    response = await hooks.post(
        "/api/v1/webhooks",
        json={"url": receiver.url("/a"), "events": ["asset.created"], "secret": "whsec_c2hvcnQ="},
    )
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "secret"


async def test_signed_delivery_end_to_end(hooks: Api, receiver: Receiver) -> None:
    hook = await subscribe(hooks, receiver.url("/cmms"), ["asset.created", "asset.updated"])
    asset = await create_asset(hooks)
    await wait_for(lambda: len(receiver.on("/cmms")) == 1)
    got = receiver.on("/cmms")[0]
    payload = verify(got, hook["secret"])
    assert set(payload) == {"id", "delivery_id", "type", "timestamp", "tenant", "resource", "data"}
    assert payload["type"] == "asset.created" and payload["tenant"] == "acme"
    assert payload["resource"] == {"type": "asset", "id": asset["id"]}
    assert payload["data"]["after"]["tag_number"] == ASSET["tag_number"]
    assert got.headers["X-Reliatic-Event"] == "asset.created"
    assert got.headers["X-Reliatic-Delivery"] == payload["delivery_id"] == got.headers["webhook-id"]
    assert abs(int(got.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    feed = await (await hooks.get("/api/v1/events")).json()
    assert payload["id"] == feed["data"][0]["id"]
    await wait_for_status(hooks, hook["id"], "succeeded")
    log = await deliveries(hooks, hook["id"])
    assert log[0]["status"] == "succeeded" and log[0]["attempt_count"] == 1
    assert log[0]["attempts"][0]["http_status"] == 200
    assert log[0]["attempts"][0]["duration_ms"] >= 0


async def test_deliveries_name_the_product_and_its_version(hooks: Api, receiver: Receiver) -> None:
    """Not aiohttp's `Python/3.x aiohttp/3.y`: receivers see who calls, not our stack. A
    ping is queued like `reliatic webhook test` queues it, and sent by the same scheduler."""
    hook = await subscribe(hooks, receiver.url("/ua"), ["asset.created"])
    assert (await hooks.post(f"/api/v1/webhooks/{hook['id']}/test")).status == 202
    await create_asset(hooks)
    await wait_for(lambda: len(receiver.on("/ua")) == 2)
    for got in receiver.on("/ua"):
        assert got.headers["User-Agent"] == f"Reliatic-Webhooks/{reliatic_appliance.__version__}"


async def test_only_subscribed_types_are_sent(hooks: Api, receiver: Receiver) -> None:
    await subscribe(hooks, receiver.url("/only-updates"), ["asset.updated"])
    asset = await create_asset(hooks)
    await hooks.put(f"/api/v1/assets/{asset['id']}", json={"location": "x"})
    await wait_for(lambda: len(receiver.on("/only-updates")) == 1)
    assert receiver.on("/only-updates")[0].payload["type"] == "asset.updated"


async def test_retries_keep_the_delivery_id_and_resign(hooks: Api, receiver: Receiver) -> None:
    receiver.fail_first["/flaky"] = 2
    hook = await subscribe(hooks, receiver.url("/flaky"), ["asset.created"])
    await create_asset(hooks)
    await wait_for(lambda: len(receiver.on("/flaky")) == 3)
    ids = {r.headers["webhook-id"] for r in receiver.on("/flaky")}
    assert len(ids) == 1
    for got in receiver.on("/flaky"):
        verify(got, hook["secret"])
    await wait_for_status(hooks, hook["id"], "succeeded")
    log = await deliveries(hooks, hook["id"])
    assert [a["http_status"] for a in log[0]["attempts"]] == [503, 503, 200]


async def test_all_retries_spent_marks_failed(hooks: Api, receiver: Receiver) -> None:
    receiver.status["/down"] = 500
    hook = await subscribe(hooks, receiver.url("/down"), ["asset.created"])
    await create_asset(hooks)
    await wait_for(lambda: len(receiver.on("/down")) == 5)
    await wait_for_status(hooks, hook["id"], "failed")
    log = await deliveries(hooks, hook["id"])
    assert log[0]["attempt_count"] == 5 and len(log[0]["attempts"]) == 5
    assert [a["http_status"] for a in log[0]["attempts"]] == [500] * 5
    assert log[0]["next_attempt_at"] is None


async def wait_for_status(api: Api, webhook_id: str, status: str, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        log = await deliveries(api, webhook_id)
        if log and all(d["status"] == status for d in log):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries did not reach {status}: {log}")


async def test_gone_disables_at_once_with_an_alert(hooks: Api, receiver: Receiver) -> None:
    receiver.status["/gone"] = 410
    hook = await subscribe(hooks, receiver.url("/gone"), ["asset.created"])
    await create_asset(hooks)
    await wait_for_status(hooks, hook["id"], "failed")
    assert len(receiver.on("/gone")) == 1
    state = (await (await hooks.get(f"/api/v1/webhooks/{hook['id']}")).json())["data"]
    assert state["enabled"] is False and "410" in state["disabled_reason"]
    alerts = (await (await hooks.get("/api/v1/alerts?kind=webhook_disabled")).json())["data"]
    assert [a["resource_id"] for a in alerts] == [hook["id"]]
    assert "alert.escalated" in [e["type"] for e in await events_of(hooks)]
    # SPEC §7: outbox rows only for enabled subscriptions; the feed has what was missed.
    receiver.status["/gone"] = 200
    await create_asset(hooks, tag_number="V-2")
    await hooks.put(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True})
    await create_asset(hooks, tag_number="V-3")
    await wait_for(lambda: len(receiver.on("/gone")) == 2)
    assert receiver.on("/gone")[1].payload["data"]["after"]["tag_number"] == "V-3"


async def test_twenty_failed_deliveries_disable(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, receiver: Receiver
) -> None:
    env = {**FAST, "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "[0.05]"}
    api = await open_api(await aiohttp_client(create_app(make_settings(data_dir, env))), ADMIN)
    receiver.status["/broken"] = 500
    hook = await subscribe(api, receiver.url("/broken"), ["asset.created"])
    for n in range(19):
        await create_asset(api, tag_number=f"T-{n}")
    await wait_for_status(api, hook["id"], "failed", within=20)
    state = (await (await api.get(f"/api/v1/webhooks/{hook['id']}")).json())["data"]
    assert state["enabled"] is True  # 19 failed deliveries: not yet
    await create_asset(api, tag_number="T-19")
    await wait_for_status(api, hook["id"], "failed", within=20)
    state = (await (await api.get(f"/api/v1/webhooks/{hook['id']}")).json())["data"]
    assert state["enabled"] is False and "20" in state["disabled_reason"]


async def test_a_hung_receiver_does_not_block_others(hooks: Api, receiver: Receiver) -> None:
    receiver.hang.add("/hung")
    await subscribe(hooks, receiver.url("/hung"), ["asset.created"])
    await subscribe(hooks, receiver.url("/healthy"), ["asset.created"])
    for n in range(6):
        await create_asset(hooks, tag_number=f"H-{n}")
    await wait_for(lambda: len(receiver.on("/healthy")) == 6, within=3)


async def test_rotation_signs_with_both_secrets(hooks: Api, receiver: Receiver) -> None:
    hook = await subscribe(hooks, receiver.url("/rot"), ["asset.created"])
    response = await hooks.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", json={})
    assert response.status == 200
    rotated = (await response.json())["data"]
    assert rotated["secret"] != hook["secret"] and rotated["previous_secret_expires_at"]
    await create_asset(hooks)
    await wait_for(lambda: len(receiver.on("/rot")) == 1)
    got = receiver.on("/rot")[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    verify(got, rotated["secret"])  # X-Reliatic-Signature uses the new one
    headers = {k.lower(): v for k, v in got.headers.items()}
    StandardWebhook(hook["secret"]).verify(got.body, headers)  # the old one still verifies


async def test_ping_and_redeliver(hooks: Api, receiver: Receiver) -> None:
    hook = await subscribe(hooks, receiver.url("/ping"), ["asset.created"])
    response = await hooks.post(f"/api/v1/webhooks/{hook['id']}/test")
    assert response.status == 202
    delivery = (await response.json())["data"]
    await wait_for(lambda: len(receiver.on("/ping")) == 1)
    ping = verify(receiver.on("/ping")[0], hook["secret"])
    assert ping["type"] == "ping" and ping["delivery_id"] == delivery["id"]
    await wait_for_status(hooks, hook["id"], "succeeded")
    again = await hooks.post(f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver")
    assert again.status == 202
    await wait_for(lambda: len(receiver.on("/ping")) == 2)
    assert receiver.on("/ping")[1].headers["webhook-id"] == delivery["id"]
    missing = await hooks.post("/api/v1/webhook-deliveries/dlv_nope/redeliver")
    assert missing.status == 404


async def test_retention_purges_old_log(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, receiver: Receiver
) -> None:
    clock = Clock()
    app = create_app(make_settings(data_dir, FAST), clock=clock)
    api = await open_api(await aiohttp_client(app), ADMIN)
    hook = await subscribe(api, receiver.url("/old"), ["asset.created"])
    await create_asset(api)
    await wait_for(lambda: len(receiver.on("/old")) == 1)
    await wait_for_status(api, hook["id"], "succeeded")
    clock.advance(days=29)
    await app[SCHEDULER].run_housekeeping()
    assert len(await deliveries(api, hook["id"])) == 1
    clock.advance(days=2)
    await app[SCHEDULER].run_housekeeping()
    assert await deliveries(api, hook["id"]) == []
    assert (await (await api.get("/api/v1/events")).json())["data"] == []
