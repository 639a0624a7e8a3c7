"""Scheduled backups by the server's own scheduler (SPEC §2 `[backup]`), and webhook secrets
that still sign after a restore (they are encrypted with the master key the backup holds)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import CONTROL_DB, METRICS, SCHEDULER, SETTINGS, TENANT_DBS
from reliatic_appliance.ports import AuditFilter
from reliatic_appliance.scheduler.runner import Scheduler
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services import audit, backup_schedule, backups
from reliatic_appliance.services.paging import PageRequest
from reliatic_appliance.settings import SettingsError, load_settings
from reliatic_appliance.storage.layout import master_key_file
from tests.conftest import Api, create_asset, events_of, make_settings, open_api
from tests.process import cli
from tests.test_webhooks import ADMIN, FAST, Clock, subscribe, verify
from tests.webhook_receiver import Receiver, wait_for

pytestmark = pytest.mark.sqlite_only(
    reason="scheduled backups of SQLite files; on PostgreSQL that is pg_dump/pg_restore"
)

Factory = Callable[..., Awaitable[TestClient]]


def own_scheduler(client: TestClient, clock: Clock) -> Scheduler:
    """A scheduler on the app's databases that only runs what the test calls (its clock)."""
    app = client.app
    return Scheduler(
        settings=app[SETTINGS],
        control=app[CONTROL_DB],
        tenants=app[TENANT_DBS],
        box=SecretBox.from_file(master_key_file(app[SETTINGS].data_dir)),
        clock=clock,
        metrics=app[METRICS],
    )


async def test_scheduled_backups_are_verified_and_pruned(
    aiohttp_client: Factory, data_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "backups"
    env = {"RELIATIC_BACKUP_DIR": str(root), "RELIATIC_BACKUP_KEEP": "2"}
    clock = Clock()
    client = await aiohttp_client(
        create_app(make_settings(data_dir, env), clock=clock, run_scheduler=False)
    )
    api = await open_api(client, [])
    await create_asset(api)
    scheduler = own_scheduler(client, clock)
    names = []
    for _ in range(3):
        result = await scheduler.run_backup()
        assert result is not None and result["files"] == 3
        names.append(result["name"])
        clock.advance(minutes=61)
    assert sorted(p.name for p in root.iterdir()) == names[1:]
    assert result["pruned"] == [names[0]]
    for name in names[1:]:
        assert backups.check_backup(root / name) == []
    newest = json.loads((root / names[-1] / "manifest.json").read_text())["finished_at"]
    assert backup_schedule.newest_verified_backup(root).isoformat().startswith(newest[:19])
    # Each backup is an administrative act in the tenant's audit log (SPEC §5).
    listed = await audit.list_audit(
        client.app[CONTROL_DB],
        await client.app[TENANT_DBS].get(api.tenant["id"]),
        api.tenant["id"],
        AuditFilter(action="backup.taken"),
        None,
        PageRequest(),
    )
    assert [(e["actor"], e["target_id"]) for e in listed.items] == [
        ("scheduler", name) for name in names
    ]


async def test_the_scheduler_takes_a_backup_when_one_is_due(
    aiohttp_client: Factory, data_dir: Path
) -> None:
    env = {**FAST, "RELIATIC_BACKUP_INTERVAL_MINUTES": "60", "RELIATIC_BACKUP_DIR": "snaps"}
    client = await aiohttp_client(create_app(make_settings(data_dir, env)))
    await open_api(client, [])
    root = data_dir / "snaps"  # relative to the data dir
    await wait_for(lambda: backup_schedule.newest_verified_backup(root) is not None, within=20)
    (taken,) = list(root.iterdir())
    assert backups.check_backup(taken) == []
    # Not again before the interval has passed.
    await client.app[SCHEDULER].tick()
    assert len(list(root.iterdir())) == 1


async def test_a_failed_scheduled_backup_logs_and_raises_an_alert(
    aiohttp_client: Factory, data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    # Root ignores permissions, so "not writable" is made with a path through a file.
    env = {"RELIATIC_BACKUP_DIR": str(blocker / "backups"), "RELIATIC_BACKUP_INTERVAL_MINUTES": "5"}
    client = await aiohttp_client(create_app(make_settings(data_dir, env), run_scheduler=False))
    api = await open_api(client, ["webhooks:read"])
    scheduler = own_scheduler(client, Clock())
    with caplog.at_level(logging.ERROR):
        assert await scheduler.run_backup() is None
    (record,) = [r for r in caplog.records if r.getMessage() == "scheduled backup failed"]
    assert record.levelno == logging.ERROR
    assert "NotADirectoryError" in getattr(record, "fields", {})["reason"]
    response = await api.get("/api/v1/alerts?kind=backup_failed")
    assert response.status == 200
    (alert,) = (await response.json())["data"]
    assert alert["severity"] == "critical" and alert["resource_type"] == "backup"
    assert "NotADirectoryError" in alert["message"] and str(tmp_path) not in alert["message"]
    raised = [e for e in await events_of(api) if e["type"] == "alert.escalated"]
    assert len(raised) == 1 and json.loads(raised[0]["data"])["after"]["id"] == alert["id"]


async def test_webhook_secrets_still_sign_after_a_restore(
    aiohttp_client: Factory, data_dir: Path, tmp_path: Path, receiver: Receiver
) -> None:
    client = await aiohttp_client(create_app(make_settings(data_dir, FAST)))
    api = await open_api(client, ADMIN)
    hook = await subscribe(api, receiver.url("/cmms"), ["asset.created"])
    out = tmp_path / "backup"
    # The CLI backs up while this server runs: another process, as an operator would.
    taken = cli(data_dir, "backup", "--out", str(out))
    assert taken.returncode == 0, taken.stderr
    restored = tmp_path / "restored"
    done = cli(restored, "restore", "--from", str(out))
    assert done.returncode == 0, done.stderr
    await client.close()

    again = await aiohttp_client(create_app(make_settings(restored, FAST)))
    restored_api = Api(client=again, tenant=api.tenant, key=api.key, key_id=api.key_id)
    asset = await create_asset(restored_api, tag_number="V-777")
    await wait_for(
        lambda: any(r.payload["resource"]["id"] == asset["id"] for r in receiver.on("/cmms"))
    )
    delivered = next(r for r in receiver.on("/cmms") if r.payload["resource"]["id"] == asset["id"])
    assert verify(delivered, hook["secret"])["type"] == "asset.created"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"RELIATIC_BACKUP_KEEP": "0"},
            "RELIATIC_BACKUP_KEEP: [backup] keep: Input should be greater than or equal to 1",
            id="keep-zero",
        ),
        pytest.param(
            {"RELIATIC_BACKUP_INTERVAL_MINUTES": "-5"},
            "RELIATIC_BACKUP_INTERVAL_MINUTES: [backup] interval_minutes: Input should be greater"
            " than or equal to 0",
            id="interval-negative",
        ),
    ],
)
def test_backup_settings_are_validated(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(data_dir=tmp_path, config_file=None, env=env)
    assert str(info.value) == expected


def test_backup_dir_is_relative_to_the_data_dir_unless_absolute(tmp_path: Path) -> None:
    def root(env: dict[str, str]) -> Path:
        return backup_schedule.backup_root(
            load_settings(data_dir=tmp_path, config_file=None, env=env)
        )

    assert root({}) == tmp_path / "backups"
    assert root({"RELIATIC_BACKUP_DIR": "nightly"}) == tmp_path / "nightly"
    assert root({"RELIATIC_BACKUP_DIR": "/srv/backup"}) == Path("/srv/backup")


def test_a_stopping_server_ends_a_scheduled_backup_and_leaves_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "backups"
    settings = make_settings(data_dir, {"RELIATIC_BACKUP_DIR": str(root)})
    stop = threading.Event()
    stop.set()
    with pytest.raises(backups.BackupError, match="cancelled: the server is stopping"):
        backup_schedule.take_backup(settings, clock=Clock(), stop=stop)
    assert list(root.iterdir()) == []


async def test_metrics_report_the_age_of_the_newest_verified_backup(
    aiohttp_client: Factory, data_dir: Path
) -> None:
    clock = Clock()
    client = await aiohttp_client(create_app(make_settings(data_dir), clock=clock))

    async def age_lines() -> list[str]:
        response = await client.get("/metrics")  # from loopback: no key needed
        assert response.status == 200
        text = await response.text()
        return [line for line in text.splitlines() if line.startswith("reliatic_backup_age")]

    assert await age_lines() == []  # no backup yet: the gauge is left out
    assert await own_scheduler(client, clock).run_backup() is not None
    clock.advance(minutes=10)
    (line,) = await age_lines()
    assert 600 <= float(line.split()[-1]) < 660
