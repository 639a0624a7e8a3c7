"""The audit log (SPEC §5): every administrative act recorded with who, from where and what
changed (never a secret), hash-chained, listed at /api/v1/audit-log for `audit:read`, and
checked by `reliatic audit verify`, which catches tampering done from outside the process."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.domain.audit_chain import GENESIS, entry_hash, walk
from reliatic_appliance.services.audit import Who, audit_url
from tests.conftest import Api, create_asset, make_settings, open_api
from tests.pg_cluster import APP_ROLE, OWNER_ROLE, SESSION, SUPERUSER, backend_env
from tests.pg_cluster import Database as PgDatabaseName
from tests.process import cli, cli_json
from tests.test_webhooks import FAST, subscribe, wait_for_status
from tests.webhook_receiver import Receiver

AUDITOR = ["api_keys:read", "api_keys:write", "webhooks:read", "webhooks:write", "audit:read"]


@pytest.fixture
async def admin(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Api:
    client = await aiohttp_client(create_app(make_settings(data_dir, FAST)))
    return await open_api(client, AUDITOR)


async def audit_log(api: Api, query: str = "") -> dict[str, Any]:
    response = await api.get(f"/api/v1/audit-log?per_page=100{query}")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_key_acts_are_recorded_with_actor_address_and_no_key(admin: Api) -> None:
    created = await admin.post("/api/v1/api-keys", json={"name": "cmms", "level": "read_only"})
    assert created.status == 201
    key = (await created.json())["data"]
    revoked = await admin.delete(f"/api/v1/api-keys/{key['id']}")
    assert revoked.status == 200
    body = await audit_log(admin)
    acts = [e["action"] for e in body["data"] if e["target_id"] == key["id"]]
    assert acts == ["api_key.created", "api_key.revoked"]
    entry = next(e for e in body["data"] if e["target_id"] == key["id"])
    assert entry["actor"] == admin.key_id and entry["address"] == "127.0.0.1"
    assert entry["chain"] == "control"
    assert entry["changes"]["name"] == "cmms" and entry["changes"]["level"] == "read_only"
    assert entry["changes"]["prefix"] == key["prefix"]
    assert key["key"] not in json.dumps(body) and key["key"][12:] not in json.dumps(body)
    assert body["meta"]["total"] == len(body["data"])


async def test_webhook_acts_are_recorded_and_no_secret_leaks(admin: Api) -> None:
    hook = await subscribe(
        admin, "https://10.0.0.5/hook?token=abc", ["asset.created"], description="CMMS"
    )
    assert (await admin.put(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False})).ok
    rotated = await admin.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", json={})
    assert rotated.status == 200
    new_secret = (await rotated.json())["data"]["secret"]
    assert (await admin.delete(f"/api/v1/webhooks/{hook['id']}")).status == 204
    body = await audit_log(admin, "&action=webhook.created")
    assert [e["action"] for e in body["data"]] == ["webhook.created"]
    everything = await audit_log(admin)
    hook_acts = [e for e in everything["data"] if e["target_id"] == hook["id"]]
    assert [e["action"] for e in hook_acts] == [
        "webhook.created",
        "webhook.updated",
        "webhook.rotated",
        "webhook.deleted",
    ]
    assert all(e["chain"] == "tenant" for e in hook_acts)
    assert hook_acts[0]["changes"]["url"] == "https://10.0.0.5/hook?…"
    assert hook_acts[1]["changes"] == {"enabled": False}
    text = json.dumps(everything)
    for secret in (hook["secret"], new_secret, "token=abc"):
        assert secret not in text


async def test_scheduler_disabling_a_webhook_is_recorded(admin: Api, receiver: Receiver) -> None:
    receiver.status["/gone"] = 410
    hook = await subscribe(admin, receiver.url("/gone"), ["asset.created"])
    await create_asset(admin)
    await wait_for_status(admin, hook["id"], "failed")
    body = await audit_log(admin, "&actor=scheduler")
    assert [(e["action"], e["target_id"]) for e in body["data"]] == [
        ("webhook.disabled", hook["id"])
    ]
    assert "410" in body["data"][0]["changes"]["reason"]
    assert body["data"][0]["address"] is None


async def test_list_needs_audit_read_and_pages_across_both_chains(admin: Api) -> None:
    key, _ = await admin.new_key(scopes=["assets:read"])
    refused = await admin.get("/api/v1/audit-log", key=key)
    assert refused.status == 403
    assert (await refused.json())["message"] == "API key lacks required permission: audit:read"
    for n in range(3):
        await subscribe(admin, f"https://10.0.0.{n + 1}/hook", ["asset.created"])
        await admin.post("/api/v1/api-keys", json={"name": f"k{n}", "level": "read_only"})
    everything = (await audit_log(admin))["data"]
    times = [e["created_at"] for e in everything]
    assert times == sorted(times)
    newest_first = (await audit_log(admin, "&sort=-created_at"))["data"]
    assert [e["id"] for e in newest_first] == [e["id"] for e in reversed(everything)]
    pages = []
    for page in (1, 2, 3):
        response = await admin.get(f"/api/v1/audit-log?per_page=3&page={page}")
        body = await response.json()
        assert body["meta"]["total"] == len(everything)
        pages += body["data"]
    assert [e["id"] for e in pages] == [e["id"] for e in everything][:9]
    assert {e["chain"] for e in everything} == {"control", "tenant"}
    bad = await admin.get("/api/v1/audit-log?action=DROP%20TABLE")
    assert bad.status == 400 and (await bad.json())["error"] == "validation_error"


# -- the chain, and `reliatic audit verify` against tampering from outside -----------------


def test_chain_rules_are_table_driven() -> None:
    entries = []
    prev = GENESIS
    for seq in (1, 2, 3):
        entry = {
            "seq": seq,
            "id": f"aud_{seq}",
            "at": f"2026-01-0{seq}T00:00:00.000000Z",
            "actor": "cli:root",
            "address": None,
            "action": "api_key.created",
            "target_type": "api_key",
            "target_id": f"key_{seq}",
            "changes": {"name": f"k{seq}"},
            "prev_hash": prev,
        }
        entry["hash"] = prev = entry_hash(entry)
        entries.append(entry)
    head = (3, prev)
    altered = [entries[0], {**entries[1], "changes": {"name": "evil"}}, entries[2]]
    rehashed = {**entries[1], "changes": {"name": "evil"}}
    rehashed["hash"] = entry_hash(rehashed)
    cases: list[tuple[str, list[dict[str, Any]], tuple[int, str] | None, str | None]] = [
        ("intact", entries, head, None),
        ("altered", altered, head, "aud_2"),
        ("altered and re-hashed", [entries[0], rehashed, entries[2]], head, "aud_3"),
        ("removed", [entries[0], entries[2]], head, None),
        ("reordered", [entries[0], entries[2], entries[1]], head, None),
        ("newest removed", entries[:2], head, None),
        ("empty", [], None, None),
    ]
    for name, chain, chain_head, named in cases:
        result = walk(chain, chain_head).broken
        if name in ("intact", "empty"):
            assert result is None, name
        else:
            assert result is not None, name
            assert result.entry_id == named or named is None, (name, result)


def _tamper(db: Path, *statements: str) -> None:
    """Change a database file from another process, as someone with the file would."""
    script = (
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "for sql in sys.argv[2:]:\n"
        "    conn.execute(sql)\n"
        "conn.commit()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db), *statements], check=True)


@pytest.fixture(scope="module")
def audited_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data dir whose tenant `north` has a few acts in each chain, made with the CLI once."""
    return _audited(tmp_path_factory.mktemp("audited") / "data")


def _audited(data_dir: Path) -> tuple[Path, str]:
    cli(data_dir, "init")
    tenant = cli_json(data_dir, "tenant", "create", "north")
    for n in range(4):
        cli_json(
            data_dir, "key", "create", "--tenant", "north", f"--name=k{n}", "--level=read_only"
        )
    cli(data_dir, "tenant", "disable", "north")
    cli(data_dir, "tenant", "enable", "north")
    for n in range(3):
        cli(
            data_dir,
            "webhook", "add", "--tenant", "north", f"--url=https://10.0.0.{n + 1}/hook",
            "--event=asset.created",
        )  # fmt: skip
    return data_dir, tenant["id"]


@pytest.fixture
def audited(audited_template: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    """A copy of the template for one test to tamper with."""
    template, tenant_id = audited_template
    if SESSION.backend == "postgresql":
        # The data is in the data dir's own database, which copying the dir does not take:
        # copy the template's database too, as the copy's (dropped after the test).
        assert SESSION.cluster is not None
        source = SESSION.database_for(template)
        copy = tmp_path / "data"
        name = f"{source.name}_copy_{secrets.token_hex(4)}"
        SESSION.cluster.execute(
            f"CREATE DATABASE {name} TEMPLATE {source.name} OWNER {OWNER_ROLE} STRATEGY FILE_COPY"
        )
        SESSION.databases[copy.resolve()] = PgDatabaseName(
            name=name,
            dsn=SESSION.cluster.dsn(name, APP_ROLE),
            admin_dsn=SESSION.cluster.dsn(name, OWNER_ROLE),
        )
    return Path(shutil.copytree(template, tmp_path / "data")), tenant_id


def test_verify_passes_an_intact_log(audited: tuple[Path, str]) -> None:
    data_dir, _ = audited
    result = cli_json(data_dir, "audit", "verify", "--tenant", "north")
    assert result["ok"] is True
    # tenant.created, 4 keys, disabled, enabled | 3 webhooks
    assert [(c["chain"], c["checked"]) for c in result["chains"]] == [("control", 7), ("tenant", 3)]
    human = cli(data_dir, "audit", "verify", "--tenant", "north")
    assert human.returncode == 0 and "intact, 10 entries checked" in human.stdout


@pytest.mark.parametrize(
    ("where", "statements", "named", "reason"),
    [
        ("control", ["UPDATE audit_log SET changes = '{}' WHERE seq = 3"], 3, "altered"),
        ("control", ["UPDATE audit_log SET actor = 'cli:someone' WHERE seq = 2"], 2, "altered"),
        ("control", ["DELETE FROM audit_log WHERE seq = 4"], None, "missing"),
        ("control", ["UPDATE audit_log SET seq = seq + 100 WHERE seq = 2",
                     "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                     "UPDATE audit_log SET seq = 3 WHERE seq = 102"], (3, 2), "altered"),
        ("control", ["DELETE FROM audit_log WHERE seq = 7"], None, "recorded head"),
        ("tenant", ["UPDATE audit_log SET target_id = 'whk_X' WHERE seq = 2"], 2, "altered"),
        ("tenant", ["DELETE FROM audit_log WHERE seq = 1"], None, "missing"),
    ],
)  # fmt: skip
def test_verify_names_what_was_tampered_with(
    audited: tuple[Path, str],
    where: str,
    statements: list[str],
    named: int | tuple[int, int] | None,
    reason: str,
) -> None:
    data_dir, tenant_id = audited
    if SESSION.backend == "postgresql":
        ids, tamper = _pg_tamperer(data_dir, where)
        tamper(*statements)
    else:
        db = data_dir / ("control.db" if where == "control" else f"tenants/{tenant_id}.db")
        ids = _entry_ids(db)
        _tamper(db, *statements)
    result = cli(data_dir, "audit", "verify", "--tenant", "north")
    assert result.returncode == 1 and result.stdout == ""
    line = result.stderr
    assert line.startswith("reliatic: error: audit log of tenant north is broken: ")
    assert f"{where} chain" in line and reason in line and line.count("\n") == 1
    if named is not None:
        # (the entry's seq before tampering, its position now), when it was moved
        was, now = named if isinstance(named, tuple) else (named, named)
        assert f"entry {ids[was]} (#{now})" in line


@pytest.mark.sqlite_only(
    reason="tampers with the SQLite file from outside (on PostgreSQL: rows, as the owner)"
)
def test_verify_catches_an_entry_rehashed_to_hide_a_change(audited: tuple[Path, str]) -> None:
    """Recomputing the altered entry's own hash moves the break to the next entry."""
    data_dir, _ = audited
    db = data_dir / "control.db"
    ids = _entry_ids(db)
    row = _rows(db, "SELECT * FROM audit_log WHERE seq = 3")[0]
    row["changes"] = {"name": "evil"}
    forged = entry_hash(row)
    _tamper(
        db,
        f"UPDATE audit_log SET changes = '{{\"name\":\"evil\"}}', hash = '{forged}' WHERE seq = 3",
    )
    result = cli(data_dir, "audit", "verify", "--tenant", "north")
    assert result.returncode == 1
    assert f"entry {ids[4]} (#4)" in result.stderr and "out of chain" in result.stderr


def _rows(db: Path, sql: str) -> list[dict[str, Any]]:
    script = (
        "import json, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1]); conn.row_factory = sqlite3.Row\n"
        "print(json.dumps([dict(r) for r in conn.execute(sys.argv[2])]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(db), sql], check=True, capture_output=True, text=True
    )
    rows: list[dict[str, Any]] = json.loads(out.stdout)
    return rows


def _pg_tamperer(data_dir: Path, where: str) -> tuple[dict[int, str], Callable[..., None]]:
    """On PostgreSQL: the chain's ids by seq, and a way to run the SQLite statements on its
    rows as the cluster's superuser (someone with the database, past row security). One
    schema holds both chains, the control one as control_audit_log."""
    import psycopg

    dsn = backend_env(data_dir)["RELIATIC_STORAGE_DSN"].replace(f"{APP_ROLE}@", f"{SUPERUSER}@")
    table = "control_audit_log" if where == "control" else "audit_log"
    with psycopg.connect(dsn) as conn:
        ids = {seq: id_ for seq, id_ in conn.execute(f"SELECT seq, id FROM {table}").fetchall()}

    def tamper(*statements: str) -> None:
        with psycopg.connect(dsn) as conn:
            for statement in statements:
                conn.execute(statement.replace("audit_log", table))

    return ids, tamper


def _entry_ids(db: Path) -> dict[int, str]:
    return {r["seq"]: r["id"] for r in _rows(db, "SELECT seq, id FROM audit_log")}


def test_changes_may_not_carry_a_secret() -> None:
    from reliatic_appliance.services.audit import _check_no_secret

    with pytest.raises(ValueError, match="secret"):
        _check_no_secret({"secret": "whsec_x"})
    with pytest.raises(ValueError, match="password"):
        _check_no_secret({"user": {"password": "x"}})
    _check_no_secret({"name": "cmms", "prefix": "rl_live_abcd"})
    assert Who("cli:root").act("tenant.disabled").changes == {}


def test_audit_url_drops_credentials() -> None:
    assert (
        audit_url("https://u:p@cmms.plant.local:8443/hook?t=1")
        == "https://cmms.plant.local:8443/hook?…"
    )
    assert audit_url("https://[fd00::1]/h") == "https://[fd00::1]/h"
