"""`reliatic webhook add|list|remove|test` as an operator runs them (SPEC §2, §7): real
subprocesses over real files, and a ping through the real server to a real receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.pg_cluster import OWNER_ROLE, SESSION, SUPERUSER, backend_env
from tests.process import Server, cli, cli_json, start_server
from tests.test_webhooks import verify
from tests.webhook_receiver import Receiver, wait_for

LOCAL_TARGETS = {
    "RELIATIC_WEBHOOKS_ALLOW_HTTP": "true",
    "RELIATIC_WEBHOOKS_ALLOW_LOOPBACK_TARGETS": "true",
}
SERVER_ENV = {
    **LOCAL_TARGETS,
    "RELIATIC_SCHEDULER_TICK_SECONDS": "0.05",
    "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000",
}
URL = "https://10.20.30.40/hooks/reliatic"  # the plant LAN: allowed by default
# A valid user-chosen secret: whsec_ + base64 of 32 bytes.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw9rrUpo6ek7E="


def initialised(path: Path) -> Path:
    assert cli(path, "init").returncode == 0
    for slug in ("acme", "other"):
        assert cli(path, "tenant", "create", slug).returncode == 0
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return initialised(tmp_path / "data")


def _shared_on_sqlite(fixture_name: str, config: pytest.Config) -> Literal["module", "function"]:
    # On PostgreSQL every test's databases are dropped after it (tests/pg_cluster.py).
    return "function" if SESSION.backend == "postgresql" else "module"


@pytest.fixture(scope=_shared_on_sqlite)
def untouched_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the refusal cases, which must leave it as it is (on SQLite)."""
    return initialised(tmp_path_factory.mktemp("refusals") / "data")


def add(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = cli(data_dir, "webhook", "add", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def assert_one_line_error(result: Any, message: str) -> None:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reliatic: error:"), result.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_add_prints_the_secret_once_and_list_never(data_dir: Path) -> None:
    human = cli(
        data_dir, "webhook", "add", "--tenant", "acme", "--url", URL, "--event", "asset.created"
    )
    assert human.returncode == 0, human.stderr
    assert human.stdout.count("whsec_") == 1 and "only time" in human.stdout
    secret = next(w for w in human.stdout.split() if w.startswith("whsec_"))
    # Both spellings of several events: repeated flags and several values after one.
    chosen = add(
        data_dir,
        "--tenant",
        "acme",
        "--url",
        URL,
        "--event",
        "asset.updated",
        "action.status_changed",
        "--event",
        "alert.escalated",
        "--secret",
        SECRET,
        "--description",
        "SAP PM",
    )
    assert chosen["secret"] == SECRET and chosen["enabled"] is True
    assert chosen["events"] == ["asset.updated", "action.status_changed", "alert.escalated"]
    assert chosen["description"] == "SAP PM"
    listed = cli_json(data_dir, "webhook", "list", "--tenant", "acme")
    assert len(listed) == 2 and chosen["id"] in {h["id"] for h in listed}
    assert all("secret" not in h for h in listed)
    table = cli(data_dir, "webhook", "list", "--tenant", "acme").stdout
    assert chosen["id"] in table and "SAP PM" in table
    for output in (json.dumps(listed), table):
        assert secret not in output and SECRET not in output and "whsec_" not in output
    assert cli_json(data_dir, "webhook", "list", "--tenant", "other") == []
    # Encrypted at rest with the data dir's master key: not in the tenant's file in clear,
    # nor, on PostgreSQL, in any column of the webhooks table (read as the superuser).
    env = backend_env(data_dir)
    if env:
        import psycopg

        superuser = env["RELIATIC_STORAGE_ADMIN_DSN"].replace(f"{OWNER_ROLE}@", f"{SUPERUSER}@")
        with psycopg.connect(superuser) as conn:
            # The sealed bytes as they are (a bytea as text would be hex), and every column.
            rows = conn.execute("SELECT secret_enc, w::text FROM webhooks w").fetchall()
        raw = b"".join(bytes(sealed) + text.encode() for sealed, text in rows)
        assert len(rows) == 2
    else:
        raw = b"".join(p.read_bytes() for p in (data_dir / "tenants").iterdir())
    assert SECRET.encode() not in raw and secret.encode() not in raw


def test_remove_and_test_find_the_tenant_by_id(data_dir: Path) -> None:
    mine = add(data_dir, "--tenant", "other", "--url", URL, "--event", "asset.created")
    ping = cli(data_dir, "webhook", "test", mine["id"])
    assert ping.returncode == 0, ping.stderr
    delivery_id = ping.stdout.splitlines()[0]
    assert delivery_id.startswith("dlv_")
    queued = cli_json(data_dir, "webhook", "test", mine["id"])
    assert queued["event_type"] == "ping" and queued["status"] == "pending"
    assert queued["webhook_id"] == mine["id"] and queued["id"] != delivery_id
    removed = cli_json(data_dir, "webhook", "remove", mine["id"])
    assert removed["id"] == mine["id"] and removed["tenant"] == "other"
    assert cli_json(data_dir, "webhook", "list", "--tenant", "other") == []
    assert_one_line_error(cli(data_dir, "webhook", "remove", mine["id"]), "not found")
    assert_one_line_error(cli(data_dir, "webhook", "test", mine["id"]), "not found")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--url", "http://10.0.0.5/x"], "--url: URL scheme must be https", id="http"),
        pytest.param(["--url", "ftp://10.0.0.5/x"], "--url: URL scheme", id="ftp"),
        pytest.param(["--url", "https://127.0.0.1/x"], "--url: ", id="loopback"),
        pytest.param(["--url", "https://169.254.169.254/x"], "link-local", id="metadata"),
        pytest.param(["--url", "not a url"], "--url: ", id="garbage"),
        pytest.param(["--event", "asset.exploded"], "unknown event type 'asset.exploded'", id="ev"),
        pytest.param(["--secret", "whsec_c2hvcnQ="], "--secret: must be whsec_", id="short"),
        pytest.param(["--secret", "sk_live_abcdef"], "--secret: must be whsec_", id="prefix"),
        pytest.param(["--description", "a\x01b"], "control characters", id="description"),
        pytest.param(["--tenant", "nobody"], "Tenant 'nobody' not found", id="tenant"),
    ],
)
def test_bad_input_is_one_line_exit_1(untouched_dir: Path, args: list[str], message: str) -> None:
    data_dir = untouched_dir
    given = dict(zip(args[::2], args[1::2], strict=True))
    base = {"--tenant": "acme", "--url": URL, "--event": "asset.created"} | given
    result = cli(data_dir, "webhook", "add", *[x for kv in base.items() for x in kv])
    assert_one_line_error(result, message)
    assert "sk_live_abcdef" not in result.stderr  # a refused secret is never echoed
    assert cli_json(data_dir, "webhook", "list", "--tenant", "acme") == []


def test_webhook_commands_need_init(tmp_path: Path) -> None:
    result = cli(tmp_path / "nothing", "webhook", "list", "--tenant", "acme")
    assert_one_line_error(result, "init")


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    running = start_server(data_dir, SERVER_ENV)
    yield running
    running.stop()


async def test_ping_queued_by_the_cli_is_sent_by_the_server(
    server: Server, receiver: Receiver
) -> None:
    """The CLI and the server share the master key and the outbox: the CLI's secret signs."""
    data_dir = server.data_dir
    created = await asyncio.to_thread(
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
    ping = await asyncio.to_thread(cli, data_dir, "webhook", "test", created["id"])
    assert ping.returncode == 0, ping.stderr
    delivery_id = ping.stdout.splitlines()[0]
    await wait_for(lambda: len(receiver.on("/cmms")) == 1, within=15)
    got = receiver.on("/cmms")[0]
    payload = verify(got, created["secret"])
    assert payload["type"] == "ping" and payload["delivery_id"] == delivery_id
    assert got.headers["webhook-id"] == delivery_id


def test_loopback_targets_follow_the_settings(data_dir: Path) -> None:
    args = ["--tenant", "acme", "--url", "http://127.0.0.1:9/x", "--event", "asset.created"]
    refused = cli(data_dir, "webhook", "add", *args)
    assert_one_line_error(refused, "--url: ")
    assert add(data_dir, *args, env=LOCAL_TARGETS)["url"] == "http://127.0.0.1:9/x"
