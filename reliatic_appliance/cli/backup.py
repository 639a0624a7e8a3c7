"""`reliatic backup --out DIR`, `restore --from DIR` and `check [--backup DIR]` (SPEC §2, §8)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reliatic_appliance.cli.context import CliContext, CliError, cli_who
from reliatic_appliance.cli.progress import ProgressBar
from reliatic_appliance.services import audit, backups
from reliatic_appliance.timefmt import utc_now


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    backup = sub.add_parser(
        "backup",
        parents=[common],
        help="consistent online backup of every database and the master key",
        description=(
            "Copy control.db, every tenant's database (SQLite's online backup API: the server"
            " may go on serving and writing) and secret/ into DIR, check each copy, and write"
            " DIR/manifest.json last. The backup holds the master key: store it like the key."
        ),
        epilog="example: sudo -u reliatic reliatic backup --out /srv/backup/reliatic/2026-12-02",
    )
    backup.add_argument("--out", required=True, metavar="DIR", help="a new or empty directory")
    backup.set_defaults(run=run_backup)
    restore = sub.add_parser(
        "restore",
        parents=[common],
        help="restore a backup into a missing or empty data dir (server stopped)",
        description=(
            "Check the backup in full (manifest checksums, integrity), then copy it into the"
            " data dir, which must be missing or empty and not held by a running server."
        ),
        epilog="example: sudo -u reliatic reliatic --data-dir /var/lib/reliatic restore"
        " --from /srv/backup/reliatic/2026-12-02",
    )
    restore.add_argument("--from", dest="source", required=True, metavar="DIR", help="a backup")
    restore.set_defaults(run=run_restore)
    check = sub.add_parser(
        "check",
        parents=[common],
        help="integrity and foreign-key check of every database (or of a backup)",
        description=(
            "Run PRAGMA integrity_check and foreign_key_check on every database of the data"
            " dir, or of a backup (then also its manifest: missing or extra files, sizes,"
            " checksums). Prints one line per damaged thing; exits 1 if there is any."
        ),
        epilog="example: reliatic check --backup /srv/backup/reliatic/2026-12-02",
    )
    check.add_argument("--backup", metavar="DIR", help="check this backup, not the data dir")
    check.set_defaults(run=run_check)


async def run_backup(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.require_sqlite("backup")
    ctx.require_initialised()
    bar = ProgressBar("backup", total=0, unit="pages")
    began = time.monotonic()
    try:
        manifest = backups.create_backup(ctx.data_dir, Path(args.out), clock=utc_now, progress=bar)
    except backups.BackupError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    seconds = round(time.monotonic() - began, 3)
    files = manifest["files"]
    size = sum(int(f["size"]) for f in files)
    taken = {"files": len(files), "bytes": size, "finished_at": manifest["finished_at"]}
    async with ctx.control() as control:
        act = cli_who().act("backup.taken", "backup", Path(args.out).name, taken)
        await audit.record_for_every_tenant(control, act, now=utc_now())
    summary = {
        "out": str(args.out),
        "started_at": manifest["started_at"],
        "finished_at": manifest["finished_at"],
        "seconds": seconds,
        "files": len(files),
        "bytes": size,
        "verified": manifest["verified"],
        "databases": {
            f["path"]: {"schema_version": f["schema_version"], "tables": f["tables"]}
            for f in files
            if "schema_version" in f
        },
    }
    ctx.emit(
        summary,
        f"backup written to {args.out}: {len(files)} files, {size / 1e6:.1f} MB in"
        f" {seconds:.1f} s, every database checked; it holds the master key, keep it safe",
    )
    return 0


async def run_restore(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.require_sqlite("restore")
    try:
        result = backups.restore_backup(Path(args.source), ctx.data_dir)
    except backups.BackupError as exc:
        raise CliError(str(exc)) from None
    restored = {"files": result["files"], "backup_finished_at": result["backup_finished_at"]}
    async with ctx.control() as control:
        act = cli_who().act("backup.restored", "backup", Path(args.source).name, restored)
        await audit.record_for_every_tenant(control, act, now=utc_now())
    ctx.emit(
        result,
        f"restored {result['files']} files from {args.source} (taken"
        f" {result['backup_finished_at']}) into {ctx.data_dir}",
    )
    return 0


async def run_check(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.require_sqlite("check")
    target = Path(args.backup) if args.backup else ctx.data_dir
    try:
        found = backups.check_backup(target) if args.backup else backups.check_data_dir(target)
    except backups.BackupError as exc:
        raise CliError(str(exc)) from None
    ctx.emit(
        {
            "checked": str(target),
            "ok": not found,
            "problems": [{"file": p.file, "problem": p.what} for p in found],
        },
        [p.line() for p in found] or f"{target}: every file passed",
    )
    if found:
        print(f"reliatic: error: {len(found)} problem(s) found in {target}", file=sys.stderr)
        return 1
    return 0
