"""Scheduled backups (SPEC §2 `[backup] dir, interval_minutes, keep`): the server's
scheduler takes one every `interval_minutes`, into `<dir>/<UTC timestamp>/`, with the same
code as `reliatic backup`, checks it as `reliatic check --backup` would, and prunes the
directory to the newest `keep`. A failure is an ERROR log line and, in every enabled tenant,
an alert of kind `backup_failed` (emitted as `alert.escalated`, like the webhook-disabled
alert: the event vocabulary stays as SPEC §7 has it), so a CMMS subscribed to alerts hears
of it as well as whoever reads the journal.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from reliatic_appliance.errors import Unavailable
from reliatic_appliance.ports import ControlDb, TenantDirectory, TenantTx
from reliatic_appliance.services.alerts import raise_alert
from reliatic_appliance.services.audit import SCHEDULER, record_for_every_tenant
from reliatic_appliance.services.backups import (
    BackupError,
    Clock,
    check_backup,
    create_backup,
    load_manifest,
    reason_of,
)
from reliatic_appliance.services.tenants import list_tenants
from reliatic_appliance.settings import Settings
from reliatic_appliance.timefmt import format_ts

log = logging.getLogger(__name__)

# `20261202T093600Z`, and `-2`, `-3`… should two runs start within one second.
_NAME = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


def backup_root(settings: Settings) -> Path:
    """`[backup] dir`, relative to the data dir unless absolute; <data dir>/backups if unset."""
    configured = settings.backup.dir
    if configured is None:
        return settings.data_dir / "backups"
    return configured if configured.is_absolute() else settings.data_dir / configured


def _scheduled(root: Path) -> list[Path]:
    """The scheduled backups' directories in `root`, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name))


def newest_verified_backup(root: Path) -> datetime | None:
    """`finished_at` of the newest verified backup in `root`, or None (for a backup-age gauge).

    A manifest is written only once every file in it passed its checks, so a readable one
    with `verified` stands for a verified backup.
    """
    for path in reversed(_scheduled(root)):
        try:
            manifest = load_manifest(path)
        except BackupError:
            continue
        if manifest.get("verified") is True:
            return datetime.fromisoformat(str(manifest["finished_at"]))
    return None


def prune(root: Path, keep: int) -> list[str]:
    """Remove all but the newest `keep` verified backups (and unfinished ones older than
    those); return the names removed."""
    kept = 0
    removed = []
    for path in reversed(_scheduled(root)):
        if kept < keep:
            kept += (path / "manifest.json").exists()
            continue
        shutil.rmtree(path)
        removed.append(path.name)
    return removed


def take_backup(
    settings: Settings, *, clock: Clock, stop: threading.Event | None = None
) -> dict[str, Any]:
    """One scheduled backup, verified, then the prune; synchronous (run it in a thread).

    A run that fails leaves nothing behind: its directory is removed. Setting `stop` ends
    the run at its next step (a server that is stopping does not wait for a long copy).
    """

    def progress(done: int, total: int) -> None:
        if stop is not None and stop.is_set():
            raise BackupError("cancelled: the server is stopping")

    root = backup_root(settings)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = clock().strftime("%Y%m%dT%H%M%SZ")
    out, n = root / base, 1
    while out.exists():
        n += 1
        out = root / f"{base}-{n}"
    try:
        manifest = create_backup(settings.data_dir, out, clock=clock, progress=progress)
        progress(0, 0)
        damaged = check_backup(out)
        if damaged:
            raise BackupError(f"verification failed: {damaged[0].line()}")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return {
        "name": out.name,
        "dir": str(out),
        "finished_at": manifest["finished_at"],
        "files": len(manifest["files"]),
        "bytes": sum(int(f["size"]) for f in manifest["files"]),
        "pruned": prune(root, settings.backup.keep),
    }


async def run_scheduled_backup(
    settings: Settings, control: ControlDb, tenants: TenantDirectory, *, clock: Clock
) -> dict[str, Any] | None:
    """Take a scheduled backup off the event loop; on failure log an ERROR and raise the
    `backup_failed` alert in every enabled tenant. The result, or None when it failed."""
    started = clock()
    stop = threading.Event()
    try:
        result = await asyncio.to_thread(take_backup, settings, clock=clock, stop=stop)
    except asyncio.CancelledError:
        stop.set()  # the thread cannot be cancelled; it ends itself at its next step
        log.warning("scheduled backup cancelled: the server is stopping; nothing is kept")
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {reason_of(exc)}"
        log.error(
            "scheduled backup failed",
            extra={"fields": {"backup_dir": str(backup_root(settings)), "reason": reason}},
        )
        await _alert(control, tenants, started=started, error=type(exc).__name__)
        return None
    log.info(
        "scheduled backup verified",
        extra={"fields": {k: result[k] for k in ("dir", "files", "bytes", "pruned")}},
    )
    taken = {k: result[k] for k in ("files", "bytes", "finished_at", "pruned")}
    try:
        act = SCHEDULER.act("backup.taken", "backup", result["name"], taken)
        await record_for_every_tenant(control, act, now=clock())
    except Unavailable:
        # The backup is there and verified; a busy control.db must not make it a failure.
        log.warning("could not record the scheduled backup in the audit log")
    return result


async def _alert(
    control: ControlDb, tenants: TenantDirectory, *, started: datetime, error: str
) -> None:
    at = format_ts(started)
    name = started.strftime("%Y%m%dT%H%M%SZ")
    # No path or detail in a tenant's alert: those are the operator's, in the log.
    message = f"The scheduled backup {name} failed ({error}); the server log has the reason."

    def write(tx: TenantTx) -> None:
        raise_alert(
            tx,
            kind="backup_failed",
            severity="critical",
            resource_type="backup",
            resource_id=name,
            level=None,
            message=message,
            at=at,
            actor="scheduler",
        )

    for tenant in await list_tenants(control):
        if tenant["disabled_at"] is None:
            db = await tenants.get(tenant["id"])
            try:
                await db.write(write)
            except Exception:
                log.exception("cannot record the backup_failed alert")
