"""`reliatic selftest` against a real `reliatic serve` (SPEC §2): it passes over HTTPS with
target safety at its defaults, leaves nothing behind, and fails clearly at its first step
when nothing runs. Plus the narrow exemption it relies on (services/target_grants.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509

from reliatic_appliance.cli.selftest import loopback_receiver
from reliatic_appliance.errors import ValidationError
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services import tenants, webhooks
from reliatic_appliance.services.audit import Who
from reliatic_appliance.services.paging import PageRequest
from reliatic_appliance.services.target_grants import (
    GRANT_POLICY,
    TargetGrant,
    find_grant,
    remove_grant,
    write_grant,
)
from reliatic_appliance.storage.backends import open_storage
from reliatic_appliance.storage.layout import master_key_file
from reliatic_appliance.storage.tenancy import open_control
from reliatic_appliance.timefmt import format_ts, utc_now
from reliatic_appliance.tlscert import make_self_signed
from tests.conftest import make_settings
from tests.pg_cluster import SESSION
from tests.process import cli, free_port, start_server

STEPS = [
    "GET /healthz",
    "GET /readyz",
    "data dir is usable",
    "open control.db",
    "create tenant",
    "create a read-write key",
    "subscribe the loopback receiver",
    "POST /api/v1/assets",
    "POST /api/v1/inspections",
    "POST /api/v1/actions",
    "PUT action status open -> in_progress",
    "signed webhook arrives and verifies",
    "delivery log says succeeded",
    "remove tenant",
]


@pytest.fixture
def appliance(tmp_path: Path) -> tuple[Path, Path]:
    """A data dir and a config serving HTTPS on a free port, target safety at its defaults."""
    data_dir, config = tmp_path / "data", tmp_path / "etc" / "reliatic.toml"
    config.parent.mkdir()
    config.write_text(f"[server]\nport = {free_port()}\n[scheduler]\ntick_seconds = 0.2\n")
    assert cli(data_dir, "init").returncode == 0
    made = cli(data_dir, "--config", str(config), "init", "--tls")
    assert made.returncode == 0, made.stderr
    assert cli(data_dir, "tenant", "create", "plant-a").returncode == 0
    return data_dir, config


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_selftest_passes_against_the_running_service_and_leaves_nothing(
    appliance: tuple[Path, Path],
) -> None:
    data_dir, config = appliance
    env = {"RELIATIC_CONFIG": str(config)}
    server = start_server(data_dir, env)
    # The selftest's default URL comes from the config: the port the server got.
    text = config.read_text()
    config.write_text(re.sub(r"port = \d+", f"port = {server.port}", text))
    try:
        threads = threads_of(server.process.pid)
        result = cli(data_dir, "selftest", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].startswith("reliatic selftest: https://127.0.0.1:")
        assert [line[:6] for line in lines[1:-1]] == ["[ ok ]"] * len(STEPS)
        steps = [
            "open PostgreSQL" if s == "open control.db" and SESSION.backend == "postgresql" else s
            for s in STEPS
        ]
        for line, step in zip(lines[1:-1], steps, strict=True):
            assert line[7:].startswith(step) and line.endswith(" ms"), line
        assert lines[-1].startswith("selftest passed: 14 steps in ")
        as_json = cli(data_dir, "selftest", "--json", env=env)
        assert as_json.returncode == 0, as_json.stderr
        report = json.loads(as_json.stdout)
        assert report["passed"] is True and all(s["ok"] for s in report["steps"])
        # The service is still healthy and nothing of the throwaway tenants stays.
        assert server.process.poll() is None
        left = json.loads(cli(data_dir, "tenant", "list", "--json").stdout)
        assert [t["slug"] for t in left] == ["plant-a"]
        if SESSION.backend == "sqlite":
            files = {p.name.split(".")[0] for p in (data_dir / "tenants").iterdir()}
            assert files == {left[0]["id"]}  # its .db, -wal and -shm; no other tenant's
        # The server let go of the removed tenants' files (a writer thread each) at a tick.
        # (PostgreSQL opens no file per tenant; its worker threads start as work comes.)
        for _ in range(50):
            if SESSION.backend != "sqlite" or threads_of(server.process.pid) <= threads:
                break
            time.sleep(0.1)
        assert SESSION.backend != "sqlite" or threads_of(server.process.pid) <= threads
        assert list((data_dir / "selftest").iterdir()) == []
    finally:
        server.stop()
    assert not [line for line in server.log_lines() if line["level"] == "error"]


def test_selftest_against_a_stopped_service_fails_at_the_first_step(
    appliance: tuple[Path, Path],
) -> None:
    data_dir, config = appliance
    result = cli(data_dir, "--config", str(config), "selftest")
    assert result.returncode == 1
    assert result.stdout.splitlines()[1].startswith("[FAIL] GET /healthz")
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith("reliatic: error: selftest failed at 'GET /healthz': connection")
    assert "is the service running?" in error
    if SESSION.backend == "sqlite":
        assert len(list((data_dir / "tenants").iterdir())) == 1  # nothing was made
    assert "selftest" not in cli(data_dir, "tenant", "list").stdout


@pytest.mark.sqlite_only(reason="checks that the tenant's SQLite file is gone")
async def test_only_selftest_tenants_can_be_removed(tmp_path: Path) -> None:
    control = open_control(tmp_path)
    try:
        kept = await tenants.create_tenant(
            control, tmp_path, slug="plant-a", by=TEST, now=utc_now()
        )
        with pytest.raises(ValidationError):
            await tenants.remove_throwaway_tenant(control, tmp_path, "plant-a", now=utc_now())
        assert [t["id"] for t in await tenants.list_tenants(control)] == [kept["id"]]
        gone = await tenants.create_tenant(
            control, tmp_path, slug="selftest-0123abcd", by=TEST, now=utc_now()
        )
        await tenants.remove_throwaway_tenant(control, tmp_path, "selftest-0123abcd", now=utc_now())
        assert [t["id"] for t in await tenants.list_tenants(control)] == [kept["id"]]
        assert not (tmp_path / "tenants" / f"{gone['id']}.db").exists()
    finally:
        control.close()


TEST = Who("test")
HOOK = "whk_01M8V289J1VNTVFQHCCGTMWX4N"
URL = "https://127.0.0.1:45678/selftest"


@pytest.mark.parametrize(
    ("webhook_id", "url", "minutes", "found"),
    [
        pytest.param(HOOK, URL, 5, True, id="the-granted-subscription"),
        pytest.param("whk_01M8V289J1VNTVFQHCCGTMWX4M", URL, 5, False, id="another-subscription"),
        pytest.param(HOOK, "https://127.0.0.1:45679/selftest", 5, False, id="another-port"),
        pytest.param(HOOK, "https://127.0.0.1:45678/other", 5, False, id="another-path"),
        pytest.param(HOOK, URL, -1, False, id="expired"),
    ],
)
def test_a_grant_covers_one_subscription_and_url_for_a_while(
    tmp_path: Path, webhook_id: str, url: str, minutes: int, found: bool
) -> None:
    now = utc_now()
    expires = format_ts(now + timedelta(minutes=minutes))
    path = write_grant(tmp_path, TargetGrant(HOOK, URL, "PEM", expires))
    assert path.stat().st_mode & 0o777 == 0o600
    assert (find_grant(tmp_path, webhook_id, url, now=now) is not None) is found
    remove_grant(tmp_path, HOOK)
    assert find_grant(tmp_path, HOOK, URL, now=now) is None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/x", "https://10.0.0.1/x", "https://localhost:1/x", "https://[::2]/x"],
)
def test_a_grant_names_an_https_loopback_address_only(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        write_grant(tmp_path, TargetGrant(HOOK, url, "PEM", "2999-01-01T00:00:00Z"))


def test_a_certificate_without_the_address_used_fails_with_what_to_do(
    appliance: tuple[Path, Path],
) -> None:
    """A plant CA's certificate names the server's LAN name only: the selftest's default URL
    (127.0.0.1) then does not verify, and the error says how to point it elsewhere."""
    data_dir, config = appliance
    forced = cli(
        data_dir, "--config", str(config), "init", "--tls", "--force", "--host", "plant.example"
    )
    assert forced.returncode == 0, forced.stderr
    cert = config.parent / "tls" / "reliatic.crt"
    names = x509.load_pem_x509_certificate(cert.read_bytes()).extensions
    assert "127.0.0.1" in str(names)  # --host keeps loopback; a plant CA's would not:
    plant = make_self_signed(["plant.example"], now=utc_now())
    cert.write_bytes(plant.cert_pem)
    (config.parent / "tls" / "reliatic.key").write_bytes(plant.key_pem)
    env = {"RELIATIC_CONFIG": str(config)}
    server = start_server(data_dir, env)
    config.write_text(re.sub(r"port = \d+", f"port = {server.port}", config.read_text()))
    try:
        result = cli(data_dir, "selftest", env=env)
    finally:
        server.stop()
    assert result.returncode == 1
    (error,) = result.stderr.strip().splitlines()
    assert "selftest failed at 'GET /healthz': the server's certificate does not verify" in error
    assert "pass --url with a name the certificate carries" in error


async def test_the_running_server_honours_a_grant_for_its_subscription_only(
    tmp_path: Path,
) -> None:
    """Target safety at its defaults: a loopback HTTPS receiver is refused without a grant,
    reached with one, and refused again when the grant pins another certificate."""
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    server = start_server(data_dir, {"RELIATIC_SCHEDULER_TICK_SECONDS": "0.05"})
    storage = open_storage(make_settings(data_dir))  # the session's backend
    control, databases = storage.control, storage.tenants
    try:
        tenant = await tenants.get_tenant(control, "acme")
        db = await databases.get(tenant["id"])
        box = SecretBox.from_file(master_key_file(data_dir))
        async with loopback_receiver() as (receiver, url, ca_pem):
            other_ca = make_self_signed(["127.0.0.1"], now=utc_now()).cert_pem.decode()
            expires = format_ts(utc_now() + timedelta(minutes=5))
            hooks_by_case = {}
            for case, pem in (("none", None), ("granted", ca_pem), ("other-cert", other_ca)):
                row, _ = await webhooks.create_webhook(
                    db,
                    box,
                    GRANT_POLICY,
                    url=url,
                    events=["asset.created"],
                    secret=None,
                    enabled=True,
                    description=case,
                    by=TEST,
                    now=utc_now(),
                )
                if pem is not None:
                    write_grant(data_dir, TargetGrant(row["id"], url, pem, expires))
                await webhooks.send_test(db, row["id"], tenant_slug="acme", now=utc_now())
                hooks_by_case[case] = row["id"]

            async def outcome(case: str) -> tuple[str, str | None]:
                page = await webhooks.list_deliveries(
                    db, hooks_by_case[case], status=None, page=PageRequest(1, 10)
                )
                (delivery,) = page.items
                return delivery["status"], delivery["last_error"]

            for _ in range(200):
                done = [await outcome(case) for case in hooks_by_case]
                if all(status != "pending" or error for status, error in done):
                    break
                await asyncio.sleep(0.05)
            assert (await outcome("granted"))[0] == "succeeded"
            assert len(receiver.received) == 1
            none_error = (await outcome("none"))[1] or ""
            assert "target refused: 127.0.0.1 is a loopback address" in none_error
            other_error = (await outcome("other-cert"))[1] or ""
            assert "certificate" in other_error.lower() or "ssl" in other_error.lower()
    finally:
        storage.close()
        server.stop()
