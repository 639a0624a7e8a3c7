"""A full disk and a locked database (SPEC §8, §9): writes answer 503 `unavailable`, reads go
on, nothing is half-written, and writes resume without a restart once space (or the lock)
is back."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import TENANT_DBS
from tests.conftest import Api, create_asset, events_of, make_settings, open_api
from tests.process import Server, cli, cli_json, start_server
from tests.test_webhooks import ADMIN, FAST, subscribe
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.sqlite_only(
    reason="SQLITE_FULL and locked SQLite files; PostgreSQL's disk is the database server's"
)

BODY = {"name": "Pump", "asset_type": "rotating"}
UNLIMITED_PAGES = 4294967294


async def post_until_unavailable(api: Api, limit: int = 2000) -> tuple[int, dict[str, Any]]:
    """POST assets until one is refused; (how many were created, the refusal's body)."""
    for n in range(limit):
        response = await api.post("/api/v1/assets", json={**BODY, "tag_number": f"F-{n:05d}"})
        if response.status != 201:
            assert response.status == 503, await response.text()
            return n, await response.json()
    raise AssertionError(f"{limit} writes and the disk never filled")


async def outbox_rows(api: Api) -> int:
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    row = db.read_now(lambda tx: tx.conn.execute("SELECT COUNT(*) AS n FROM webhook_deliveries"))
    return int(row.fetchone()["n"])


async def assert_whole(api: Api) -> int:
    """Every asset has its event and its outbox row, and nothing else is there."""
    listing = await (await api.get("/api/v1/assets?per_page=1")).json()
    created = [e for e in await events_of(api) if e["type"] == "asset.created"]
    assert listing["meta"]["total"] == len(created) == await outbox_rows(api)
    return len(created)


async def test_a_full_database_answers_503_keeps_reading_and_recovers(
    aiohttp_client: Any, data_dir: Path, receiver: Receiver
) -> None:
    """SQLITE_FULL everywhere, without root: the limit is `PRAGMA max_page_count`, which is
    per connection, so it is set on the server's own writer connection, through the
    writer's queue like any write job (the thread that owns the connection runs it)."""
    client: TestClient = await aiohttp_client(create_app(make_settings(data_dir, FAST)))
    api = await open_api(client, ADMIN)
    await subscribe(api, receiver.url("/cmms"), ["asset.created"])
    first = await create_asset(api)
    db = await client.app[TENANT_DBS].get(api.tenant["id"])

    def limit(pages: int) -> Any:
        return lambda tx: tx.conn.execute(f"PRAGMA max_page_count={pages}").fetchall()

    # Below the file's size SQLite keeps the current size: no page can be added any more.
    await db.write(limit(1))
    created, refusal = await post_until_unavailable(api)
    assert refusal["error"] == "unavailable" and refusal["details"] == []
    assert set(refusal) == {"error", "message", "details"}
    # Reads go on.
    assert (await api.get(f"/api/v1/assets/{first['id']}")).status == 200
    assert (await api.get("/api/v1/assets")).status == 200
    before = await assert_whole(api)
    assert before == 1 + created

    await db.write(limit(UNLIMITED_PAGES))
    await create_asset(api, tag_number="AFTER-FULL")
    assert await assert_whole(api) == before + 1


# -- a real full filesystem -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, mounted for the test (needs root and a kernel that lets us)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the max_page_count test covers SQLITE_FULL")
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> int:
    """Write `path` until the filesystem is full; how many bytes it took."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 512, 1):  # big writes first, then whatever still fits
            with contextlib.suppress(OSError):
                while True:
                    written += os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return written


def post(server: Server, key: str, tag: str) -> tuple[int, Any]:
    status, _, body = server.request(
        "POST", "/api/v1/assets", key=key, body={**BODY, "tag_number": tag}
    )
    return status, body


def total(server: Server, key: str, path: str) -> int:
    status, _, body = server.request("GET", path, key=key)
    assert status == 200, body
    return int(body["meta"]["total"])


def test_a_full_filesystem_answers_503_and_writes_resume_when_space_is_freed(
    small_disk: Path,
) -> None:
    data_dir = small_disk
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    key = cli_json(
        data_dir, "key", "create", "--tenant", "acme", "--name", "k", "--level", "read_write"
    )["key"]
    server = start_server(data_dir, {"RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "1000000"})
    filler = data_dir / "filler"
    try:
        assert post(server, key, "BEFORE")[0] == 201
        fill(filler)
        statuses = [post(server, key, f"FULL-{n}") for n in range(200)]
        refused = [body for status, body in statuses if status != 201]
        assert refused, "the disk never filled"
        assert {s for s, _ in statuses} <= {201, 503}
        assert refused[0]["error"] == "unavailable"
        # Reads go on; what was acknowledged is there with its event, nothing more.
        assets = total(server, key, "/api/v1/assets?per_page=1")
        events = total(server, key, "/api/v1/events?type=asset.created&per_page=1")
        assert assets == events == 1 + sum(1 for s, _ in statuses if s == 201)

        filler.unlink()
        status, body = post(server, key, "AFTER")
        assert status == 201, body
        assert total(server, key, "/api/v1/assets?per_page=1") == assets + 1
    finally:
        server.stop()
    checked = cli(data_dir, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- a locked database ------------------------------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys

conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


async def test_a_locked_database_answers_503_and_writes_resume_when_released(
    aiohttp_client: Any, data_dir: Path
) -> None:
    settings = make_settings(data_dir, {"RELIATIC_STORAGE_BUSY_TIMEOUT_MS": "300"})
    client = await aiohttp_client(create_app(settings))
    api = await open_api(client, [])
    first = await create_asset(api)
    path = data_dir / "tenants" / f"{api.tenant['id']}.db"
    # Another process (and another SQLite binding, SPEC §8) holds the write lock.
    holder = subprocess.Popen(  # noqa: ASYNC220 - a helper process, started once
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        response = await api.post("/api/v1/assets", json={**BODY, "tag_number": "LOCKED"})
        assert response.status == 503
        assert (await response.json())["error"] == "unavailable"
        assert (await api.get(f"/api/v1/assets/{first['id']}")).status == 200
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=10)
    await create_asset(api, tag_number="RELEASED")
    listing = await (await api.get("/api/v1/assets?per_page=1")).json()
    assert listing["meta"]["total"] == 2


def test_a_backup_onto_a_full_disk_fails_in_one_line_and_leaves_nothing(
    small_disk: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    fill(small_disk / "filler")
    out = small_disk / "backup"
    result = cli(data_dir, "backup", "--out", str(out))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"reliatic: error: backup failed, nothing kept in {out}: ")
    assert not out.exists() or list(out.iterdir()) == []
