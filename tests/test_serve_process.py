"""The real `reliatic serve` process: logs, request ids, cross-process revocation, SIGTERM."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import Server, cli, cli_json, start_server, tenant_server

ENV = {"RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with tenant_server(tmp_path / "data", ENV) as running:
        yield running


def new_key(server: Server, *extra: str) -> dict:
    return cli_json(
        server.data_dir,
        "key",
        "create",
        "--tenant",
        "acme",
        "--name",
        "k",
        "--level",
        "read_write",
        *extra,
    )


def test_key_revoked_by_cli_is_refused_on_next_request(server: Server) -> None:
    created = new_key(server)
    status, _, _ = server.request("GET", "/api/v1/assets", key=created["key"])
    assert status == 200
    revoke = cli(server.data_dir, "key", "revoke", created["id"])
    assert revoke.returncode == 0, revoke.stderr
    status, _, body = server.request("GET", "/api/v1/assets", key=created["key"])
    assert status == 401 and body["error"] == "invalid_api_key"


def test_tenant_disabled_by_cli_is_refused_on_next_request(server: Server) -> None:
    created = new_key(server)
    assert cli(server.data_dir, "tenant", "disable", "acme").returncode == 0
    status, _, body = server.request("GET", "/api/v1/assets", key=created["key"])
    assert status == 401 and body["error"] == "invalid_api_key"


def test_tenant_enabled_by_cli_serves_its_keys_on_next_request(server: Server) -> None:
    created = new_key(server)
    assert cli(server.data_dir, "tenant", "disable", "acme").returncode == 0
    assert server.request("GET", "/api/v1/assets", key=created["key"])[0] == 401
    assert cli(server.data_dir, "tenant", "enable", "acme").returncode == 0
    assert server.request("GET", "/api/v1/assets", key=created["key"])[0] == 200


def test_one_json_log_line_per_request_and_no_secrets(server: Server) -> None:
    created = new_key(server)
    key = created["key"]
    server.request(
        "POST",
        "/api/v1/assets",
        key=key,
        body={"tag_number": "V-1", "name": "n", "asset_type": "tank"},
        headers={"X-Request-Id": "cmms-sync.42"},
    )
    server.request("GET", f"/api/v1/assets?search={key}", key=key)
    server.request("GET", "/api/v1/assets", key="rl_live_" + "z" * 43)
    server.request("GET", "/api/v1/assets", headers={"Authorization": f"Basic {key}"})
    server.stop()
    text = server.log_text()
    assert key not in text and key[8:] not in text
    lines = server.log_lines()
    access = [line for line in lines if line.get("logger") == "reliatic.access"]
    assert len(access) == 4
    first = access[0]
    assert first["request_id"] == "cmms-sync.42"
    assert first["tenant"] == "acme" and first["key_id"] == created["id"]
    assert first["method"] == "POST" and first["path"] == "/api/v1/assets"
    assert first["status"] == 201 and isinstance(first["duration_ms"], float)
    assert [line["status"] for line in access] == [201, 200, 401, 401]
    assert all("?" not in line["path"] for line in access)


def test_request_id_echoed_when_sane_else_fresh(server: Server) -> None:
    _, headers, _ = server.request("GET", "/healthz", headers={"X-Request-Id": "abc-123"})
    assert headers["X-Request-Id"] == "abc-123"
    _, headers, _ = server.request("GET", "/healthz", headers={"X-Request-Id": "bad id<script>"})
    assert headers["X-Request-Id"] != "bad id<script>" and len(headers["X-Request-Id"]) >= 16
    _, first, _ = server.request("GET", "/healthz")
    _, second, _ = server.request("GET", "/healthz")
    assert first["X-Request-Id"] != second["X-Request-Id"]


def test_sigterm_drains_in_flight_requests(server: Server) -> None:
    key = new_key(server)["key"]
    results: list[int] = []

    def burst() -> None:
        for n in range(30):
            try:
                status, _, _ = server.request(
                    "POST",
                    "/api/v1/assets",
                    key=key,
                    body={
                        "tag_number": f"T-{threading.get_ident()}-{n}",
                        "name": "n",
                        "asset_type": "tank",
                    },
                )
            except OSError:
                return  # the server has stopped accepting: expected after SIGTERM
            results.append(status)

    workers = [threading.Thread(target=burst) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(0.2)
    server.process.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.join(timeout=30)
    assert server.process.wait(timeout=30) == 0
    # Every request that got an answer got a whole one; nothing acknowledged was lost.
    acknowledged = results.count(201)
    restarted = start_server(server.data_dir, ENV)
    try:
        key2 = new_key(restarted)["key"]
        _, _, body = restarted.request("GET", "/api/v1/assets?per_page=1", key=key2)
        assert body["meta"]["total"] >= acknowledged
    finally:
        restarted.stop()
    lines = [json.dumps(x) for x in server.log_lines()]
    assert any("stopped" in line for line in lines)
