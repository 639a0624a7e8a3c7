"""`[server] event_loop` (issue 16): `reliatic serve` on asyncio's loop or on uvloop."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.process import cli, cli_json, tenant_server

ENV = {"RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000"}


def _listening_loop(lines: list[dict]) -> str:
    (listening,) = [line for line in lines if line.get("msg") == "listening"]
    return str(listening["event_loop"])


@pytest.mark.parametrize(("setting", "module"), [("asyncio", "asyncio."), ("uvloop", "uvloop.")])
def test_serves_on_the_configured_loop(tmp_path: Path, setting: str, module: str) -> None:
    env = {**ENV, "RELIATIC_SERVER_EVENT_LOOP": setting}
    with tenant_server(tmp_path / "data", env) as server:
        key = cli_json(
            server.data_dir,
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "k",
            "--level",
            "read_write",
        )
        status, _, body = server.request(
            "POST",
            "/api/v1/assets",
            key=key["key"],
            body={"tag_number": "V-1", "name": "Vessel", "asset_type": "vessel"},
        )
        assert status == 201, body
        status, headers, body = server.request(
            "GET", f"/api/v1/assets/{body['data']['id']}", key=key["key"]
        )
        assert status == 200 and headers["ETag"]
        # A revocation from another process reaches this loop's auth cache too.
        assert cli(server.data_dir, "key", "revoke", key["id"]).returncode == 0
        status, _, body = server.request("GET", "/api/v1/assets", key=key["key"])
        assert status == 401 and body["error"] == "invalid_api_key"
        assert _listening_loop(server.log_lines()).startswith(module)


def test_an_unknown_loop_is_refused_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    result = cli(data_dir, "serve", env={"RELIATIC_SERVER_EVENT_LOOP": "trio"})
    assert result.returncode == 1
    assert "event_loop" in result.stderr and "uvloop" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
