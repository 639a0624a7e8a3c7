"""`reliatic` as an operator runs it: a subprocess, real files, exit codes, --json."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reliatic_appliance.services import api_keys, tenants
from reliatic_appliance.services.audit import Who
from reliatic_appliance.storage.backends import open_storage
from reliatic_appliance.timefmt import utc_now
from tests.conftest import make_settings
from tests.pg_cluster import backend_env
from tests.process import CLI, cli, cli_json


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.mark.sqlite_only(reason="looks at the SQLite files of the data dir")
def test_init_creates_layout_and_is_idempotent(data_dir: Path) -> None:
    first = cli_json(data_dir, "init")
    assert first["created_master_key"] is True
    key_file = data_dir / "secret" / "master.key"
    secret = key_file.read_bytes()
    assert len(secret) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "secret").stat().st_mode) == 0o700
    assert (data_dir / "control.db").exists() and (data_dir / "tenants").is_dir()
    again = cli_json(data_dir, "init")
    assert again["created_master_key"] is False
    assert key_file.read_bytes() == secret


@pytest.mark.postgresql_only
def test_init_on_postgresql_migrates_the_database(data_dir: Path) -> None:
    first = cli_json(data_dir, "init")
    assert first["created_master_key"] is True and first["database"] == "postgresql: migrated"
    assert (data_dir / "secret" / "master.key").is_file()
    assert cli_json(data_dir, "init")["created_master_key"] is False
    created = cli_json(data_dir, "tenant", "create", "acme")
    assert [t["id"] for t in cli_json(data_dir, "tenant", "list")] == [created["id"]]


@pytest.mark.sqlite_only(reason="looks at the SQLite files of the data dir")
def test_tenant_lifecycle(data_dir: Path) -> None:
    cli(data_dir, "init")
    created = cli_json(
        data_dir, "tenant", "create", "north-refinery", "--name", "North", "--rate-limit", "300"
    )
    assert created["slug"] == "north-refinery" and created["rate_limit_per_minute"] == 300
    assert (data_dir / "tenants" / f"{created['id']}.db").exists()
    listed = cli_json(data_dir, "tenant", "list")
    assert [t["slug"] for t in listed] == ["north-refinery"]
    human = cli(data_dir, "tenant", "list")
    assert "north-refinery" in human.stdout and "SLUG" in human.stdout
    disabled = cli_json(data_dir, "tenant", "disable", "north-refinery")
    assert disabled["disabled_at"] is not None
    key_args = ["key", "create", "--tenant", "north-refinery", "--name", "k", "--level=read_only"]
    refused = cli(data_dir, *key_args)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (
        "reliatic: error: Tenant 'north-refinery' is disabled; enable it before creating keys.\n"
    )
    assert cli_json(data_dir, "key", "list", "--tenant", "north-refinery") == []
    enabled = cli_json(data_dir, "tenant", "enable", "north-refinery")
    assert enabled["disabled_at"] is None and enabled["id"] == created["id"]
    assert cli(data_dir, *key_args).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["tenant", "create", "Bad_Slug"], "slug", id="bad-slug"),
        pytest.param(["tenant", "create", "x"], "slug", id="slug-too-short"),
        pytest.param(["tenant", "disable", "nobody"], "not found", id="unknown-tenant"),
        pytest.param(["tenant", "enable", "nobody"], "not found", id="enable-unknown-tenant"),
        pytest.param(
            ["key", "create", "--tenant", "nobody", "--name", "k", "--level", "read_only"],
            "not found",
            id="key-unknown-tenant",
        ),
        pytest.param(
            [
                "key",
                "create",
                "--tenant",
                "acme",
                "--name",
                "k",
                "--level",
                "read_only",
                "--scope",
                "assets:write",
            ],
            "exceeds",
            id="scope-over-level",
        ),
        pytest.param(
            [
                "key",
                "create",
                "--tenant",
                "acme",
                "--name",
                "k",
                "--level",
                "read_only",
                "--scope",
                "root",
            ],
            "unknown permission",
            id="bad-scope",
        ),
        pytest.param(
            [
                "key",
                "create",
                "--tenant",
                "acme",
                "--name",
                "k",
                "--level",
                "read_only",
                "--expires",
                "2001-01-01T00:00:00Z",
            ],
            "future",
            id="expired",
        ),
        pytest.param(
            ["key", "revoke", "key_01ZZZZZZZZZZZZZZZZZZZZZZZZ"], "not found", id="revoke-unknown"
        ),
    ],
)
def test_user_mistakes_are_one_line_exit_1(data_dir: Path, args: list[str], message: str) -> None:
    cli(data_dir, "init")
    cli(data_dir, "tenant", "create", "acme")
    result = cli(data_dir, *args)
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reliatic: error:"), result.stderr
    assert message in lines[0].lower()
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.sqlite_only(reason="looks at the SQLite files of the data dir")
def test_duplicate_tenant_is_refused(data_dir: Path) -> None:
    cli(data_dir, "init")
    cli(data_dir, "tenant", "create", "acme")
    result = cli(data_dir, "tenant", "create", "acme")
    assert result.returncode == 1 and "already exists" in result.stderr
    assert len(list((data_dir / "tenants").glob("*.db"))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["key", "create", "--tenant", "acme"],
            "the following arguments are required: --name, --level;"
            " see 'reliatic key create --help'",
            id="missing-required",
        ),
        pytest.param(
            ["tenant", "list", "--bogus"],
            "unrecognized arguments: --bogus; see 'reliatic --help'",
            id="unknown-flag",
        ),
        pytest.param(
            ["key", "create", "--tenant", "a", "--name", "n", "--level", "admin"],
            "argument --level: invalid choice: 'admin'",
            id="bad-choice",
        ),
        pytest.param(
            ["tenant", "create", "acme", "--rate-limit", "many"],
            "argument --rate-limit: invalid int value: 'many'",
            id="bad-number",
        ),
        pytest.param(
            [
                "key",
                "create",
                "--tenant",
                "a",
                "--name",
                "n",
                "--level",
                "read_only",
                "--expires",
                "tomorrow",
            ],
            "argument --expires: not an ISO 8601 time: 'tomorrow'",
            id="bad-time",
        ),
        pytest.param(
            ["key"],
            "the following arguments are required: COMMAND; see 'reliatic key --help'",
            id="missing-subcommand",
        ),
        pytest.param(["frobnicate"], "argument COMMAND: invalid choice", id="unknown-command"),
    ],
)
def test_usage_errors_are_one_line_exit_1(data_dir: Path, args: list[str], message: str) -> None:
    result = cli(data_dir, *args)
    assert result.returncode == 1, result
    assert result.stderr.startswith(f"reliatic: error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_commands_need_init(data_dir: Path) -> None:
    result = cli(data_dir, "tenant", "list")
    assert result.returncode == 1 and "init" in result.stderr


def test_key_create_list_revoke(data_dir: Path) -> None:
    cli(data_dir, "init")
    cli(data_dir, "tenant", "create", "acme")
    created = cli_json(
        data_dir,
        "key",
        "create",
        "--tenant",
        "acme",
        "--name",
        "SAP PM",
        "--level",
        "read_write",
        "--scope",
        "assets:write",
        "--expires",
        "2099-01-01T00:00:00Z",
    )
    assert set(created) == {"id", "key", "name", "level", "permissions", "expires_at"}
    assert created["key"].startswith("rl_live_") and len(created["key"]) == 51
    assert created["permissions"] == ["assets:write"]
    assert created["expires_at"].startswith("2099-01-01T00:00:00")
    listed = cli_json(data_dir, "key", "list", "--tenant", "acme")
    assert [k["id"] for k in listed] == [created["id"]]
    assert created["key"] not in json.dumps(listed)
    assert listed[0]["prefix"] == created["key"][:12]
    human = cli(data_dir, "key", "list", "--tenant", "acme").stdout
    assert created["key"] not in human and created["key"][:12] in human
    revoked = cli_json(data_dir, "key", "revoke", created["id"])
    assert revoked["revoked_at"] is not None


@pytest.mark.sqlite_only(reason="looks at the SQLite files of the data dir")
def test_global_flags_after_subcommand_and_env(tmp_path: Path) -> None:
    data_dir = tmp_path / "elsewhere"
    result = cli(tmp_path / "ignored", "init", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert (data_dir / "control.db").exists()


def test_bad_config_file_is_refused_naming_file_and_key(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "reliatic.toml"
    config.write_text("[server]\nport = 99999\n")
    result = cli(data_dir, "--config", str(config), "init")
    assert result.returncode == 1
    assert str(config) in result.stderr and "port" in result.stderr
    env_result = cli(data_dir, "init", env={"RELIATIC_SERVER_PORT": "http"})
    assert env_result.returncode == 1 and "RELIATIC_SERVER_PORT" in env_result.stderr


def test_version_and_help() -> None:
    result = cli(Path("/nonexistent"), "--help")
    assert result.returncode == 0
    for command in ("init", "serve", "tenant", "key", "webhook", "demo"):
        assert command in result.stdout


def test_misspelt_environment_variable_is_refused(data_dir: Path) -> None:
    result = cli(data_dir, "init", env={"RELIATIC_SERVR_PORT": "9000"})
    assert result.returncode == 1, result
    assert result.stderr == (
        "reliatic: error: RELIATIC_SERVR_PORT: unknown environment variable;"
        " did you mean RELIATIC_SERVER_PORT?\n"
    )
    assert not data_dir.exists()  # refused before anything was done


def cli_into_closed_pipe(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`reliatic ... | head` where head has already gone: every write to stdout fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*CLI, "--data-dir", str(data_dir), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **backend_env(data_dir)},
        )
    finally:
        os.close(write_end)


async def _add_keys(data_dir: Path, slug: str, count: int) -> None:
    """Many keys at once, through the service the CLI calls (a subprocess each is slow)."""
    storage = open_storage(make_settings(data_dir))  # the session's backend
    control = storage.control
    try:
        tenant = await tenants.get_tenant(control, slug)
        for n in range(count):
            await api_keys.create_key(
                control,
                tenant_id=tenant["id"],
                name=f"key {n}",
                level="read_only",
                by=Who("test"),
                now=utc_now(),
            )
    finally:
        storage.close()


@pytest.fixture(scope="module")
def acme_with_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("pipe") / "data"
    cli(data_dir, "init")
    cli(data_dir, "tenant", "create", "acme")
    # 40 keys: more than one 8 KiB buffer of output, so a write fails while the command runs.
    asyncio.run(_add_keys(data_dir, "acme", 40))
    return data_dir


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["tenant", "list"], id="short-output"),
        pytest.param(["key", "list", "--tenant", "acme"], id="long-output"),
        pytest.param(["key", "list", "--tenant", "acme", "--json"], id="long-json"),
    ],
)
def test_closed_stdout_ends_quietly(acme_with_keys: Path, args: list[str]) -> None:
    result = cli_into_closed_pipe(acme_with_keys, *args)
    assert result.stderr == ""  # no traceback, no "Exception ignored"
    assert result.returncode == 141  # as if killed by SIGPIPE, which shells expect


async def _add_expired_key(data_dir: Path, slug: str) -> None:
    storage = open_storage(make_settings(data_dir))  # the session's backend
    control = storage.control
    try:
        tenant = await tenants.get_tenant(control, slug)
        await api_keys.create_key(
            control,
            tenant_id=tenant["id"],
            name="old",
            level="read_only",
            expires_at=datetime(2021, 1, 1, tzinfo=UTC),
            by=Who("test"),
            now=datetime(2020, 1, 1, tzinfo=UTC),  # minted back then, so it could expire since
        )
    finally:
        storage.close()


def test_key_list_fits_100_columns(data_dir: Path) -> None:
    cli(data_dir, "init")
    cli(data_dir, "tenant", "create", "acme")
    long_name = "integration admin for the CMMS (IBM Maximo, north site)"
    for name, level in (("SAP PM", "read_write"), (long_name, "read_only"), ("gone", "read_only")):
        cli(data_dir, "key", "create", "--tenant", "acme", "--name", name, "--level", level)
    asyncio.run(_add_expired_key(data_dir, "acme"))
    keys = {k["name"]: k for k in cli_json(data_dir, "key", "list", "--tenant", "acme")}
    cli(data_dir, "key", "revoke", keys["gone"]["id"])

    lines = cli(data_dir, "key", "list", "--tenant", "acme").stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, lines
    assert lines[0].split() == ["ID", "NAME", "PREFIX", "LEVEL", "CREATED", "LAST", "USED", "STATE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert len(rows) == 4
    sap = rows[keys["SAP PM"]["id"]]  # the whole id: `key revoke` takes it
    assert keys["SAP PM"]["prefix"] in sap and "write" in sap and sap.endswith("active")
    assert keys["SAP PM"]["created_at"][:10] in sap and "never" in sap
    assert "integration ad" in rows[keys[long_name]["id"]]
    assert long_name not in "\n".join(lines) and "…" in rows[keys[long_name]["id"]]
    assert rows[keys["gone"]["id"]].endswith("revoked")
    assert rows[keys["old"]["id"]].endswith("expired")
    # --json keeps everything the table leaves out.
    assert keys[long_name]["name"] == long_name and keys["SAP PM"]["permissions"]
