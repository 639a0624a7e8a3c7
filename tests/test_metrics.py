"""GET /metrics (SPEC §3): every family after real traffic, parsed with prometheus_client's own
parser, and who may scrape it (loopback, `[metrics] allow`, or a key with metrics:read)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import METRICS
from reliatic_appliance.logs import JsonFormatter
from reliatic_appliance.metrics import LATENCY_BUCKETS, RequestCounts
from tests.conftest import Api, create_asset, make_settings, open_api
from tests.test_webhooks import ADMIN, FAST, Clock, deliveries, subscribe, wait_for_status
from tests.webhook_receiver import Receiver, wait_for

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    """The families (with their HELP) and every sample, keyed by name and sorted labels."""
    families, samples = set(), {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, f"{family.name} has no HELP"
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: TestClient, **kw: Any) -> tuple[set[str], Samples]:
    response = await client.get("/metrics", **kw)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(await response.text())


async def test_every_family_after_traffic(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, receiver: Receiver
) -> None:
    clock = Clock()
    client = await aiohttp_client(create_app(make_settings(data_dir, FAST), clock=clock))
    api = await open_api(client, ADMIN)
    asset = await create_asset(api)
    for _ in range(3):
        assert (await api.get(f"/api/v1/assets/{asset['id']}")).status == 200
    assert (await client.get("/no/such/thing/42")).status == 404
    slow_key, _ = await api.new_key(rate_limit_per_minute=1)
    assert (await api.get("/api/v1/assets", key=slow_key)).status == 200
    assert (await api.get("/api/v1/assets", key=slow_key)).status == 429
    hook = await subscribe(api, receiver.url("/ok"), ["asset.updated"])
    await api.put(f"/api/v1/assets/{asset['id']}", json={"name": "Renamed"})
    await wait_for_status(api, hook["id"], "succeeded")

    families, samples = await scrape(client)

    requests = "reliatic_http_requests_total"
    # Counted under the route template, never the raw path (the id is not a label value).
    one_asset = {"method": "GET", "route": "/api/v1/assets/{asset_id}", "status": "200"}
    assert value(samples, requests, **one_asset) == 3
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert value(samples, requests, method="GET", route="/api/v1/assets", status="429") == 1
    assert not any(asset["id"] in str(labels) for _, labels in samples)
    latency = "reliatic_http_request_duration_seconds_count"
    assert value(samples, latency, route="/api/v1/assets/{asset_id}") >= 3
    assert value(samples, "reliatic_rate_limited_total", kind="key") == 1
    assert value(samples, "reliatic_webhook_attempts_total", outcome="delivered") == 1
    assert value(samples, "reliatic_webhook_attempts_total", outcome="failed") == 0
    assert value(samples, "reliatic_webhook_outbox_pending", tenant="acme") == 0
    assert ("reliatic_webhook_outbox_oldest_pending_age_seconds", (("tenant", "acme"),)) in samples
    assert value(samples, "reliatic_webhook_outbox_oldest_pending_age_seconds", tenant="acme") == 0
    assert value(samples, "reliatic_db_write_batch_size_count", database="tenant") >= 3
    assert value(samples, "reliatic_db_write_batch_size_sum", database="tenant") >= 3
    assert value(samples, "reliatic_db_commit_seconds_count", database="control") >= 1
    assert value(samples, "reliatic_db_commit_seconds_sum", database="tenant") > 0
    assert value(samples, "process_resident_memory_bytes") > 0
    assert {"python_info", "python_gc_objects_collected", "process_cpu_seconds"} <= families
    # No backup is wired in yet: the gauge is left out rather than made up.
    assert "reliatic_backup_age_seconds" not in families


async def test_outbox_depth_and_age_of_a_pending_delivery(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, receiver: Receiver
) -> None:
    clock = Clock()
    # No scheduler: the delivery stays pending for as long as the test likes.
    app = create_app(make_settings(data_dir, FAST), clock=clock, run_scheduler=False)
    api = await open_api(await aiohttp_client(app), ADMIN)
    await subscribe(api, receiver.url("/later"), ["asset.created"])
    await create_asset(api)
    await create_asset(api, tag_number="V-2")
    clock.advance(seconds=90)
    _, samples = await scrape(api.client)
    assert value(samples, "reliatic_webhook_outbox_pending", tenant="acme") == 2
    age = value(samples, "reliatic_webhook_outbox_oldest_pending_age_seconds", tenant="acme")
    assert 90 <= age < 120


async def test_an_address_rejection_is_counted_by_kind(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    env = {"RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "2"}
    client = await aiohttp_client(create_app(make_settings(data_dir, env), run_scheduler=False))
    statuses = [(await client.get("/healthz")).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    # /metrics without a key is limited per address like /healthz (SPEC §3).
    assert (await client.get("/metrics")).status == 429
    # The scrape is address-limited too now, so read this app's registry directly.
    _, samples = parse(client.app[METRICS].exposition().decode())
    assert value(samples, "reliatic_rate_limited_total", kind="address") == 2
    assert value(samples, "reliatic_rate_limited_total", kind="key") == 0
    assert (
        value(samples, "reliatic_http_requests_total", method="GET", route="/healthz", status="429")
        == 1
    )


async def test_each_app_counts_only_its_own_requests(
    aiohttp_client: Callable[..., Awaitable[TestClient]], tmp_path: Path
) -> None:
    from reliatic_appliance.storage.layout import initialise

    clients = []
    for name in ("one", "two"):
        initialise(tmp_path / name)
        clients.append(await aiohttp_client(create_app(make_settings(tmp_path / name))))
    for _ in range(4):
        await clients[0].get("/healthz")
    _, first = await scrape(clients[0])
    _, second = await scrape(clients[1])
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(first, "reliatic_http_requests_total", **healthz) == 4
    assert value(second, "reliatic_http_requests_total", **healthz) == 0


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one (no packet is
    sent: connecting a UDP socket only picks the route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.123", 9))
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture
def lan_address() -> str:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to serve on")
    return address


async def serve_on(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    data_dir: Path,
    host: str,
    env: dict[str, str] | None = None,
) -> Api:
    app = create_app(make_settings(data_dir, env), run_scheduler=False)
    return await open_api(await aiohttp_client(TestServer(app, host=host)), [])


async def test_a_peer_off_loopback_needs_a_key_with_metrics_read(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, lan_address: str
) -> None:
    api = await serve_on(aiohttp_client, data_dir, lan_address)
    client = api.client
    # Neither a forwarded header nor the Host header makes a client local.
    spoof = {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1"}
    response = await client.get("/metrics", headers=spoof)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    response = await api.get("/metrics")  # a read-write key without metrics:read
    assert response.status == 403
    assert await response.json() == {
        "error": "forbidden",
        "message": "API key lacks required permission: metrics:read",
        "details": [],
    }
    key, _ = await api.new_key(level="read_only", scopes=["metrics:read"])
    await api.new_tenant("other-plant")
    families, samples = await scrape(client, headers=api.headers(key))
    assert "reliatic_http_requests" in families
    # The key's own tenant only: another tenant's slug and backlog are not its business.
    outbox = [labels for name, labels in samples if name == "reliatic_webhook_outbox_pending"]
    assert outbox == [(("tenant", "acme"),)]


async def test_an_allowed_network_scrapes_without_a_key(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, lan_address: str
) -> None:
    env = {"RELIATIC_METRICS_ALLOW": f'["{lan_address}/32", "10.99.0.0/16"]'}
    api = await serve_on(aiohttp_client, data_dir, lan_address, env)
    await api.new_tenant("other-plant")
    families, samples = await scrape(api.client)
    assert "reliatic_http_requests" in families
    outbox = {labels for name, labels in samples if name == "reliatic_webhook_outbox_pending"}
    assert outbox == {(("tenant", "acme"),), (("tenant", "other-plant"),)}


async def test_a_delivery_that_finally_fails_logs_one_warning(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    data_dir: Path,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {**FAST, "RELIATIC_WEBHOOKS_RETRY_SCHEDULE_SECONDS": "[0.05]"}
    client = await aiohttp_client(create_app(make_settings(data_dir, env)))
    api = await open_api(client, ADMIN)
    receiver.status["/down"] = 500
    # Whatever the URL carries (a token in its query here) must never reach the log line.
    hook = await subscribe(api, receiver.url("/down?token=hunter2"), ["asset.created"])
    with caplog.at_level(logging.WARNING, logger="reliatic_appliance.scheduler.send"):
        await create_asset(api)
        await wait_for_status(api, hook["id"], "failed")
        await wait_for(lambda: len(failed_lines(caplog)) >= 1)
        await asyncio.sleep(0.2)  # a second line would have come by now
    (record,) = failed_lines(caplog)
    (delivery,) = await deliveries(api, hook["id"])
    assert record.levelno == logging.WARNING
    assert record.fields == {  # type: ignore[attr-defined]
        "tenant": "acme",
        "webhook_id": hook["id"],
        "delivery_id": delivery["id"],
        "attempts": 2,
        "http_status": 500,
    }
    line = JsonFormatter().format(record)
    for secret in ("hunter2", hook["secret"], "/down", "V-101"):
        assert secret not in line
    _, samples = await scrape(client)
    assert value(samples, "reliatic_webhook_attempts_total", outcome="retry_scheduled") == 1
    assert value(samples, "reliatic_webhook_attempts_total", outcome="failed") == 1
    assert value(samples, "reliatic_webhook_attempt_errors_total", reason="http_status") == 2


def failed_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "webhook delivery failed for good"]


def test_backup_age_once_a_backup_time_is_known() -> None:
    from datetime import UTC, datetime, timedelta

    from reliatic_appliance.metrics import AppMetrics

    metrics = AppMetrics()
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    metrics.at_scrape.now = now
    metrics.at_scrape.backup_finished_at = now - timedelta(hours=1)
    _, samples = parse(metrics.exposition().decode())
    assert value(samples, "reliatic_backup_age_seconds") == 3600


def test_process_metrics_when_only_the_process_own_proc_is_visible(tmp_path: Path) -> None:
    """systemd's ProcSubset=pid hides /proc/stat (the boot time) but not /proc/self: the
    process metrics must still be there, with a start time that is the real one."""
    from prometheus_client import CollectorRegistry

    from reliatic_appliance.metrics import PidOnlyProcessCollector

    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "self").symlink_to("/proc/self")
    registry = CollectorRegistry()
    PidOnlyProcessCollector(proc=str(proc), registry=registry)
    samples = {s.name: s.value for m in registry.collect() for s in m.samples}
    assert samples["process_resident_memory_bytes"] > 0
    assert samples["process_open_fds"] > 0
    started = samples["process_start_time_seconds"]
    # The library's own reading, with /proc/stat visible, within a second or so.
    full = CollectorRegistry()
    PidOnlyProcessCollector(registry=full)
    real = {s.name: s.value for m in full.collect() for s in m.samples}
    assert abs(started - real["process_start_time_seconds"]) < 2


# (method, route, status, seconds): bucket edges exactly (`le` is inclusive), between them,
# below the first and past the last (+Inf), on two routes and several statuses.
OBSERVATIONS = [
    ("GET", "/api/v1/assets/{asset_id}", "200", 0.0001),
    ("GET", "/api/v1/assets/{asset_id}", "200", 0.0005),
    ("GET", "/api/v1/assets/{asset_id}", "200", 0.00051),
    ("GET", "/api/v1/assets/{asset_id}", "404", 0.003),
    ("POST", "/api/v1/assets", "201", 0.25),
    ("POST", "/api/v1/assets", "201", 10.0),
    ("POST", "/api/v1/assets", "409", 42.0),
    ("GET", "unmatched", "404", 0.0),
]


def _exposition_lines(text: bytes) -> list[str]:
    # `_created` holds when a series was first seen: equal in shape, not in value.
    return sorted(
        line.rsplit(" ", 1)[0] + " T" if "_created" in line else line
        for line in text.decode().splitlines()
    )


def test_request_families_render_as_the_library_would() -> None:
    """The request families are counted in plain ints (metrics.RequestCounts); a scrape must
    show exactly what prometheus_client's Counter and Histogram show for the same requests:
    names, HELP, labels, cumulative `le` buckets, `_count`, `_sum`, `_created`."""
    library = CollectorRegistry()
    counter = Counter(
        "reliatic_http_requests",
        "HTTP requests answered, by method, route template and status code.",
        ["method", "route", "status"],
        registry=library,
    )
    histogram = Histogram(
        "reliatic_http_request_duration_seconds",
        "Time from a request entering the server's middleware to its response, by route template.",
        ["route"],
        buckets=LATENCY_BUCKETS,
        registry=library,
    )
    ours = CollectorRegistry()
    counts = RequestCounts()
    ours.register(counts)
    for method, route, status, seconds in OBSERVATIONS:
        counter.labels(method, route, status).inc()
        histogram.labels(route).observe(seconds)
        counts.cell(method, route, status).observe(seconds)
    assert _exposition_lines(generate_latest(ours)) == _exposition_lines(generate_latest(library))
