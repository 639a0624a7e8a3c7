"""The shortcuts of the delivery path give what the plain way gives (SPEC §7): the body
encoded at the claim, keys derived once, and a backlog larger than one claim drained
without waiting for a tick."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.domain.signing import generate_secret, sign_headers, sign_with, signing_keys
from reliatic_appliance.scheduler import claim
from tests.conftest import create_asset, make_settings, open_api
from tests.test_webhooks import ADMIN, FAST, subscribe
from tests.webhook_receiver import Receiver, wait_for

PAYLOAD: dict[str, Any] = {
    "id": "42",
    "type": "asset.updated",
    "timestamp": "2026-01-01T00:00:00.000000Z",
    "tenant": "plant",
    "resource": {"type": "asset", "id": "ast_1"},
    "data": {"before": None, "after": {"name": 'Pump \u00e9\n"1"', "rating": 1.5, "tags": []}},
}


def body(payload: dict[str, Any], raw: dict[str, str], delivery_id: str) -> bytes:
    head, tail = claim.body_parts(payload, raw=raw)
    return claim.Claimed({"id": delivery_id}, head, tail, start_by=datetime.now(UTC)).body()


@pytest.mark.parametrize("spliced", [False, True])
def test_body_is_the_json_of_the_payload_with_its_delivery_id(spliced: bool) -> None:
    payload, raw = dict(PAYLOAD), {}
    if spliced:  # an event's data, as stored: compact JSON text
        raw = {"data": json.dumps(payload.pop("data"), separators=(",", ":"))}
    expected = {"id": "42", "delivery_id": "dlv_1", **PAYLOAD}
    sent = body(payload, raw, "dlv_1")
    assert sent == json.dumps(expected, separators=(",", ":")).encode()
    assert list(json.loads(sent)) == list(expected)  # id and delivery_id first


def test_signing_with_derived_keys_equals_signing_with_secrets() -> None:
    secrets = [generate_secret(), generate_secret()]
    expected = sign_headers(
        secrets=secrets, delivery_id="dlv_1", event_type="ping", timestamp=1767225600, body=b"{}"
    )
    signed = sign_with(
        signing_keys(secrets), delivery_id="dlv_1", event_type="ping", timestamp=1767225600,
        body=b"{}",
    )  # fmt: skip
    assert signed == expected
    assert secrets[0][6:] not in repr(signing_keys(secrets))  # never in a log line


@pytest.mark.parametrize("bad", ["", "a\r\nX-Evil: 1", "\x7f"])
def test_derived_keys_still_refuse_control_characters(bad: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        sign_with(signing_keys([generate_secret()]), delivery_id=bad, event_type="ping",
                  timestamp=1, body=b"{}")  # fmt: skip


async def test_a_backlog_of_several_claims_drains_without_waiting_for_a_tick(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, receiver: Receiver
) -> None:
    """More due than one claim takes: each next claim must come when the queue runs low,
    also when a claim in between skipped the subscription (its queue was full then)."""
    settings = make_settings(data_dir, {**FAST, "RELIATIC_SCHEDULER_TICK_SECONDS": "3600"})
    # The first app writes the backlog; its scheduler ticked at start, before any was due.
    writer = await open_api(await aiohttp_client(create_app(settings)), ADMIN)
    await subscribe(writer, receiver.url("/backlog"), ["asset.created"])
    events = 2 * claim.CLAIM_BATCH + 10
    gate = asyncio.Semaphore(16)

    async def post(n: int) -> None:
        async with gate:
            await create_asset(writer, tag_number=f"B-{n:04d}")

    await asyncio.gather(*(post(n) for n in range(events)))
    assert not receiver.on("/backlog")
    # The second app's scheduler ticks once at start, then not for an hour.
    await aiohttp_client(create_app(settings))
    await wait_for(
        lambda: len({r.headers["webhook-id"] for r in receiver.on("/backlog")}) == events,
        within=30,
    )
