"""`reliatic backup`, `restore` and `check` as an operator runs them (SPEC §2, §8): a backup
taken while a real server takes writes, restored and compared row by row; restores that must
be refused; damage that `check` must name."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.process import Server, cli, cli_json, start_server

pytestmark = pytest.mark.sqlite_only(
    reason="backup/restore/check of SQLite files; on PostgreSQL that is pg_dump/pg_restore"
)

ENV = {"RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "1000000"}

# Columns a request changes on rows that exist before it: not part of the comparison.
VOLATILE = {("api_keys", "last_used_at")}


def new_key(data_dir: Path, tenant: str = "acme") -> str:
    created = cli_json(
        data_dir, "key", "create", "--tenant", tenant, "--name", "k", "--level", "read_write"
    )
    return str(created["key"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    key = new_key(data_dir)
    server = start_server(data_dir, ENV)
    yield server, key
    server.stop()


def read_only(path: Path) -> sqlite3.Connection:
    # The stdlib binding, in the test process only: the server and the CLI (apsw) are other
    # processes (SPEC §8, one binding per file within a process).
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    virtual = [name for name, sql in rows if sql.upper().startswith("CREATE VIRTUAL")]
    # A full-text index's shadow tables hold its segments, which merge as rows arrive: the
    # index is compared through what it answers, not through its storage.
    return sorted(
        name
        for name, _ in rows
        if name not in virtual and not any(name.startswith(v + "_") for v in virtual)
    )


def rows_of(conn: sqlite3.Connection, table: str) -> set[tuple[Any, ...]]:
    columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    kept = [c for c in columns if (table, c) not in VOLATILE]
    select = ", ".join(f'"{c}"' for c in kept)
    return set(conn.execute(f'SELECT {select} FROM "{table}"'))


def test_backup_under_concurrent_writes_restores_a_consistent_snapshot(
    served: tuple[Server, str], tmp_path: Path
) -> None:
    server, key = served
    acknowledged: list[tuple[float, str]] = []
    stop = threading.Event()
    failures: list[Any] = []
    threads = [
        threading.Thread(target=_tagged_writer(server, key, i, stop, acknowledged, failures))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    began = time.monotonic()
    backup = tmp_path / "backup"
    result = cli(server.data_dir, "backup", "--out", str(backup), "--json")
    during = [a for t, a in acknowledged if t >= began]
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert not failures, failures[:1]
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["verified"] is True and summary["files"] == 3
    before = {a for t, a in acknowledged if t < began}
    assert len(before) > 20 and during, (len(before), len(during))

    restored = tmp_path / "restored"
    done = cli(restored, "restore", "--from", str(backup))
    assert done.returncode == 0, done.stderr
    assert cli(restored, "check").returncode == 0
    # The audit chains came along whole (control.db's and the tenant's).
    verified = cli(restored, "audit", "verify", "--tenant", "acme")
    assert verified.returncode == 0, verified.stderr

    (tenant_file,) = (restored / "tenants").iterdir()
    source = read_only(server.data_dir / "tenants" / tenant_file.name)
    copy = read_only(tenant_file)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # Every write acknowledged before the backup began is in it.
    restored_assets = {r[0] for r in copy.execute("SELECT id FROM assets")}
    assert before <= restored_assets
    # The copy is the source as of one moment: its events are exactly the source's first
    # events (ids increase), and its assets exactly those those events created.
    last_event = copy.execute("SELECT MAX(id) FROM events").fetchone()[0]
    assert rows_of(copy, "events") == set(
        source.execute("SELECT * FROM events WHERE id <= ?", (last_event,))
    )
    created = {
        r[0] for r in copy.execute("SELECT resource_id FROM events WHERE type = 'asset.created'")
    }
    assert restored_assets == created
    # Every other row of every table is the source's row; counters agree with the rows.
    for table in tables(copy):
        if table == "asset_counts":
            assert set(copy.execute("SELECT status, asset_type, n FROM asset_counts")) == set(
                copy.execute("SELECT status, asset_type, COUNT(*) FROM assets GROUP BY 1, 2")
            )
            continue
        assert rows_of(copy, table) <= rows_of(source, table), table
    assert copy.execute("SELECT COUNT(*) FROM asset_search").fetchone()[0] == len(restored_assets)
    found = copy.execute("SELECT rowid FROM asset_search WHERE asset_search MATCH '\"p-000001\"'")
    assert len(found.fetchall()) == 1
    src, dst = read_only(server.data_dir / "control.db"), read_only(restored / "control.db")
    for table in tables(dst):
        if table not in ("audit_log", "audit_head"):
            assert rows_of(dst, table) == rows_of(src, table), table
    # The audit log: the same chain up to the backup; then the source recorded the backup and
    # the copy its restore (SPEC §5: both are administrative acts).
    acts = "SELECT seq, action FROM audit_log ORDER BY seq"
    source_acts, restored_acts = list(src.execute(acts)), list(dst.execute(acts))
    assert source_acts[-1][1] == "backup.taken" and restored_acts[-1][1] == "backup.restored"
    assert len(source_acts) == len(restored_acts)
    common = "SELECT * FROM audit_log WHERE seq < ?"
    last = restored_acts[-1][0]
    assert set(dst.execute(common, (last,))) == set(src.execute(common, (last,)))

    # The restored data dir serves: the same key, the same assets.
    server.stop()
    again = start_server(restored, ENV)
    try:
        status, _, body = again.request("GET", "/api/v1/assets?per_page=1", key=key)
        assert status == 200 and body["meta"]["total"] == len(restored_assets)
    finally:
        again.stop()


def _tagged_writer(
    server: Server,
    key: str,
    index: int,
    stop: threading.Event,
    acknowledged: list[tuple[float, str]],
    failures: list[Any],
) -> Any:
    def run() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            status, _, body = server.request(
                "POST",
                "/api/v1/assets",
                key=key,
                body={"tag_number": f"P-{index}{n:05d}", "name": "Pump", "asset_type": "rotating"},
            )
            if status != 201:  # seen by the test through the missing acknowledgements
                failures.append(body)
                return
            acknowledged.append((time.monotonic(), body["data"]["id"]))

    return run


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the demo plant, made once; tests work on copies of it."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    assert cli(data_dir, "init").returncode == 0
    made = cli(data_dir, "demo")
    assert made.returncode == 0, made.stderr
    return data_dir


@pytest.fixture
def demo_copy(demo_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(demo_dir, tmp_path / "data"))


@pytest.fixture
def demo_backup(demo_copy: Path, tmp_path: Path) -> Path:
    out = tmp_path / "backup"
    result = cli(demo_copy, "backup", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def tenant_db(root: Path) -> Path:
    (path,) = (root / "tenants").glob("*.db")
    return path


def check(*args: str, data_dir: Path) -> tuple[int, list[str], dict[str, Any]]:
    human = cli(data_dir, "check", *args)
    machine = cli(data_dir, "check", *args, "--json")
    assert human.returncode == machine.returncode
    return human.returncode, human.stdout.splitlines(), json.loads(machine.stdout)


def test_backup_manifest_and_modes(demo_copy: Path, demo_backup: Path) -> None:
    manifest = json.loads((demo_backup / "manifest.json").read_text())
    assert manifest["format"] == 1 and manifest["verified"] is True
    assert manifest["started_at"].endswith("Z") and manifest["finished_at"].endswith("Z")
    paths = [f["path"] for f in manifest["files"]]
    assert paths[0] == "control.db" and "secret/master.key" in paths
    tenant = next(f for f in manifest["files"] if f["path"].startswith("tenants/"))
    assert tenant["schema_version"] >= 6 and tenant["tables"]["assets"] == 240
    assert (demo_backup / "secret" / "master.key").stat().st_mode & 0o777 == 0o600
    assert (demo_backup / "secret" / "master.key").read_bytes() == (
        demo_copy / "secret" / "master.key"
    ).read_bytes()
    assert check("--backup", str(demo_backup), data_dir=demo_copy)[0] == 0
    # Checking a backup does not change it: its checksums still hold afterwards.
    assert check("--backup", str(demo_backup), data_dir=demo_copy)[0] == 0


def test_backup_refuses_a_directory_that_is_not_empty(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = cli(demo_copy, "backup", "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"reliatic: error: {out} exists and is not empty; name a new directory"
    )


def test_restore_is_refused_into_a_dir_that_is_not_empty(demo_backup: Path, tmp_path: Path) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "control.db").write_bytes(b"")
    result = cli(target, "restore", "--from", str(demo_backup))
    assert result.returncode == 1
    assert f"data dir {target} is not empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (target / "control.db").read_bytes() == b""


def test_restore_is_refused_while_a_server_holds_the_data_dir(
    demo_backup: Path, tmp_path: Path
) -> None:
    target = tmp_path / "live"
    assert cli(target, "init").returncode == 0
    server = start_server(target, ENV)
    try:
        result = cli(target, "restore", "--from", str(demo_backup))
        assert result.returncode == 1
        assert f"data dir {target} is held by a running server" in result.stderr
    finally:
        server.stop()
    # Once it has stopped, the refusal is the other one: the dir is not empty.
    result = cli(target, "restore", "--from", str(demo_backup))
    assert "is not empty" in result.stderr


def test_a_server_refuses_to_start_during_a_restore(tmp_path: Path) -> None:
    """The lock works both ways: restore holds it exclusively (checked here by holding it)."""
    import fcntl
    import os

    target = tmp_path / "data"
    assert cli(target, "init").returncode == 0
    fd = os.open(target / "reliatic.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = cli(target, "serve", "--port", "1")
        assert result.returncode == 1
        assert "is held by another process" in result.stderr
    finally:
        os.close(fd)


def test_check_names_a_flipped_byte_in_a_backup(demo_backup: Path, tmp_path: Path) -> None:
    path = tenant_db(demo_backup)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    status, lines, machine = check("--backup", str(demo_backup), data_dir=tmp_path / "x")
    relative = f"tenants/{path.name}"
    assert status == 1
    assert f"{relative}: checksum differs from the manifest" in lines
    assert {"file": relative, "problem": "checksum differs from the manifest"} in machine[
        "problems"
    ]
    # And a restore from it writes nothing.
    result = cli(tmp_path / "restored", "restore", "--from", str(demo_backup))
    assert result.returncode == 1 and "is damaged" in result.stderr
    assert not (tmp_path / "restored" / "control.db").exists()


def test_check_names_missing_and_extra_files(demo_backup: Path, tmp_path: Path) -> None:
    (demo_backup / "secret" / "master.key").unlink()
    (demo_backup / "stray.db").write_bytes(b"x")
    status, lines, _ = check("--backup", str(demo_backup), data_dir=tmp_path / "x")
    assert status == 1
    assert lines == ["secret/master.key: missing", "stray.db: not in the manifest"]


def _page_of(path: Path, table: str) -> tuple[int, int]:
    with read_only(path) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,))
        return size, root.fetchone()[0]


def test_check_names_a_corrupted_page(demo_copy: Path) -> None:
    path = tenant_db(demo_copy)
    size, page = _page_of(path, "inspections")
    with path.open("r+b") as handle:
        handle.seek((page - 1) * size + 100)
        handle.write(b"\xff" * 200)
    status, lines, machine = check(data_dir=demo_copy)
    relative = f"tenants/{path.name}"
    assert status == 1 and lines
    assert all(line.startswith(f"{relative}: integrity_check") for line in lines), lines
    assert machine["ok"] is False and machine["problems"][0]["file"] == relative


def test_check_names_a_foreign_key_violation(demo_copy: Path) -> None:
    path = tenant_db(demo_copy)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys=OFF")
        with conn:
            conn.execute("UPDATE inspections SET asset_id = 'ast_GONE' WHERE rowid = 1")
    finally:
        conn.close()
    status, lines, _ = check(data_dir=demo_copy)
    assert status == 1
    assert lines == [
        f"tenants/{path.name}: foreign_key_check: inspections row 1 refers to a missing assets"
        " (constraint 0)"
    ]


def test_check_of_a_healthy_data_dir(demo_copy: Path) -> None:
    status, lines, machine = check(data_dir=demo_copy)
    assert (status, machine["ok"], machine["problems"]) == (0, True, [])
    assert lines == [f"{demo_copy}: every file passed"]


def test_progress_bar_only_on_a_terminal(demo_copy: Path, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess

    from tests.process import CLI

    plain = cli(demo_copy, "backup", "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0 and plain.stderr == ""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*CLI, "--data-dir", str(demo_copy), "backup", "--out", str(tmp_path / "tty")],
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            check=False,
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    text = drawn.decode()
    assert "\rbackup [" in text and "100%" in text and " pages" in text


@pytest.mark.parametrize(
    "path", ["../escaped.db", "/etc/cron.d/x", "secret/../../x", "tenants/../control.db"]
)
def test_restore_refuses_a_manifest_naming_a_path_outside_the_layout(
    demo_backup: Path, tmp_path: Path, path: str
) -> None:
    manifest_file = demo_backup / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["files"][-1]["path"] = path
    manifest_file.write_text(json.dumps(manifest))
    target = tmp_path / "restored"
    result = cli(target, "restore", "--from", str(demo_backup))
    assert result.returncode == 1
    assert "lists a file this release would not write" in result.stderr
    assert not target.exists()
    assert not (tmp_path / "escaped.db").exists()


def test_check_names_a_tenant_whose_file_is_missing(demo_copy: Path) -> None:
    path = tenant_db(demo_copy)
    path.rename(demo_copy / "elsewhere.db")
    status, lines, _ = check(data_dir=demo_copy)
    assert status == 1
    assert lines == [f"tenants/{path.name}: missing: control.db lists tenant 'demo'"]


def test_restore_by_root_gives_the_files_to_the_data_dir_owner(
    demo_backup: Path, tmp_path: Path
) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("only root can restore files on another user's behalf")
    target = tmp_path / "service-owned"
    target.mkdir()
    os.chown(target, 65534, 65534)  # as the package's `reliatic` user would own it
    result = cli(target, "restore", "--from", str(demo_backup))
    assert result.returncode == 0, result.stderr
    restored = [target, *target.rglob("*")]
    assert {(p.stat().st_uid, p.stat().st_gid) for p in restored} == {(65534, 65534)}
    assert (target / "secret" / "master.key").stat().st_mode & 0o777 == 0o600
    assert (target / "secret").stat().st_mode & 0o777 == 0o700
