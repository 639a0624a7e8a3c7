"""`reliatic webhook enable|disable|rotate-secret|deliveries|redeliver`: what an operator runs
at 3 a.m. (SPEC §2, §7), as real subprocesses, against a real server and receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook as StandardWebhook

from tests.process import Server, cli, cli_json, start_server
from tests.test_cli_webhook import LOCAL_TARGETS, SERVER_ENV, URL, add, assert_one_line_error
from tests.test_webhooks import verify
from tests.webhook_receiver import Receiver, wait_for


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    assert cli(path, "init").returncode == 0
    for slug in ("acme", "other"):
        assert cli(path, "tenant", "create", slug).returncode == 0
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["enable", "whk_nope"], "webhook whk_nope not found in any tenant", id="en"),
        pytest.param(["disable", "whk_nope"], "webhook whk_nope not found", id="dis"),
        pytest.param(["rotate-secret", "whk_nope"], "webhook whk_nope not found", id="rotate"),
        pytest.param(["deliveries", "whk_nope"], "webhook whk_nope not found", id="log"),
        pytest.param(["redeliver", "dlv_nope"], "delivery dlv_nope not found", id="re"),
        pytest.param(["deliveries", "whk_x", "--status", "lost"], "invalid choice", id="status"),
        pytest.param(["deliveries", "whk_x", "--limit", "0"], "between 1 and 1000", id="limit"),
    ],
)
def test_unknown_ids_and_bad_flags_are_one_line_exit_1(
    data_dir: Path, args: list[str], message: str
) -> None:
    assert_one_line_error(cli(data_dir, "webhook", *args), message)


def test_disable_enable_and_rotate_find_the_tenant_by_id(data_dir: Path) -> None:
    hook = add(data_dir, "--tenant", "other", "--url", URL, "--event", "asset.created")
    off = cli_json(data_dir, "webhook", "disable", hook["id"])
    assert off["enabled"] is False and off["tenant"] == "other"
    assert cli_json(data_dir, "webhook", "list", "--tenant", "other")[0]["enabled"] is False
    on = cli(data_dir, "webhook", "enable", hook["id"])
    assert on.returncode == 0 and on.stdout.startswith(f"enabled webhook {hook['id']}")
    assert cli_json(data_dir, "webhook", "list", "--tenant", "other")[0]["enabled"] is True

    human = cli(data_dir, "webhook", "rotate-secret", hook["id"])
    assert human.returncode == 0, human.stderr
    assert human.stdout.count("whsec_") == 1 and "only time" in human.stdout
    rotated = cli_json(data_dir, "webhook", "rotate-secret", hook["id"])
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] not in (hook["secret"], human.stdout)
    assert rotated["previous_secret_expires_at"] is not None
    listed = json.dumps(cli_json(data_dir, "webhook", "list", "--tenant", "other"))
    assert "whsec_" not in listed


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    running = start_server(data_dir, SERVER_ENV)
    yield running
    running.stop()


def run(data_dir: Path, *args: str) -> Any:
    return asyncio.to_thread(cli_json, data_dir, "webhook", *args)


async def test_the_log_shows_each_attempt_and_redeliver_sends_again(
    server: Server, receiver: Receiver
) -> None:
    data_dir = server.data_dir
    hook = await asyncio.to_thread(
        add,
        data_dir,
        "--tenant",
        "acme",
        "--url",
        receiver.url("/cmms"),
        "--event",
        "asset.created",
        env=LOCAL_TARGETS,
    )
    receiver.status["/cmms"] = 410  # Gone: delivered once, then the subscription is disabled
    ping = await run(data_dir, "test", hook["id"])
    await wait_for(lambda: len(receiver.on("/cmms")) == 1, within=15)

    async def log_says(status: str, attempts: int) -> bool:
        rows = await run(data_dir, "deliveries", hook["id"])
        return bool(rows) and (rows[0]["status"], rows[0]["attempt_count"]) == (status, attempts)

    for _ in range(100):
        if await log_says("failed", 1):
            break
        await asyncio.sleep(0.1)
    table = await asyncio.to_thread(cli, data_dir, "webhook", "deliveries", hook["id"])
    header, row = table.stdout.splitlines()
    assert header.split() == [
        "DELIVERY",
        "EVENT",
        "STATUS",
        "ATTEMPTS",
        "LAST_ATTEMPT",
        "RESULT",
        "DURATION",
    ]
    cells = row.split()  # the last attempt's time, its HTTP status and duration follow
    assert cells[:4] == [ping["id"], "ping", "failed", "1"]
    assert cells[4].startswith("20") and cells[5] == "410" and cells[-1] == "ms"
    assert [d["id"] for d in await run(data_dir, "deliveries", hook["id"], "--status", "failed")]
    assert await run(data_dir, "deliveries", hook["id"], "--status", "pending") == []

    # The 410 disabled it: enable it, make the receiver healthy, replay the same delivery.
    assert (await run(data_dir, "enable", hook["id"]))["enabled"] is True
    receiver.status["/cmms"] = 200
    replay = await run(data_dir, "redeliver", ping["id"])
    assert replay["id"] == ping["id"] and replay["status"] == "pending"
    assert replay["tenant"] == "acme"
    await wait_for(lambda: len(receiver.on("/cmms")) == 2, within=15)
    again = receiver.on("/cmms")[1]
    assert verify(again, hook["secret"])["delivery_id"] == ping["id"]
    for _ in range(100):
        if await log_says("succeeded", 2):
            break
        await asyncio.sleep(0.1)
    assert await log_says("succeeded", 2)


async def test_disabled_sends_nothing_and_a_rotated_secret_signs_beside_the_old(
    server: Server, receiver: Receiver
) -> None:
    data_dir = server.data_dir
    hook = await asyncio.to_thread(
        add,
        data_dir,
        "--tenant",
        "acme",
        "--url",
        receiver.url("/erp"),
        "--event",
        "asset.created",
        env=LOCAL_TARGETS,
    )
    await run(data_dir, "disable", hook["id"])
    await run(data_dir, "test", hook["id"])
    await asyncio.sleep(1.0)  # twenty ticks of the server's scheduler
    assert receiver.on("/erp") == []
    rotated = await run(data_dir, "rotate-secret", hook["id"])
    await run(data_dir, "enable", hook["id"])
    await wait_for(lambda: len(receiver.on("/erp")) == 1, within=15)
    got = receiver.on("/erp")[0]
    payload = verify(got, rotated["secret"])  # X-Reliatic-Signature: the new secret
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert len(headers["webhook-signature"].split()) == 2
    assert StandardWebhook(hook["secret"]).verify(got.body, headers) == payload
