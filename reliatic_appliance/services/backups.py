"""Backup, restore and check of a whole data dir (SPEC §2, §8).

A backup is a directory: a copy of every database (control.db and each tenants/<id>.db,
taken with SQLite's online backup API while the server serves and writes), a copy of
`secret/` (the master key: webhook signing secrets are encrypted with it, so a restore
without it could never sign again; the backup must be kept like the key itself), and
`manifest.json`, written last and atomically, which lists every file with its size,
SHA-256, mode and, for a database, its schema version and table row counts. A directory
without a manifest is an unfinished backup, never mistaken for a good one.

Everything here is synchronous file work: the CLI runs it directly, the scheduler in a thread.
Time comes from the caller's clock (`clock`), never from here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reliatic_appliance import __version__
from reliatic_appliance.storage.backup import (
    Snapshot,
    SqliteFailed,
    database_files,
    describe,
    problems,
    sha256_of,
    tenants_listed,
)
from reliatic_appliance.storage.layout import LOCK_FILE, DataDirBusy, hold_data_dir
from reliatic_appliance.timefmt import format_ts

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
SECRET_DIR = Path("secret")
# A backup holds every tenant's data and the master key: only its owner may read it.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

# What a manifest may name: the data dir's layout (SPEC §8), nothing else.
_LAYOUT_PATH = re.compile(
    r"^(control\.db|tenants/ten_[0-9A-Z]{26}\.db|secret/[A-Za-z0-9_-][A-Za-z0-9_.-]*)$"
)
_MODE = re.compile(r"^0?[0-7]{3}$")

Clock = Callable[[], datetime]
# progress(pages_done, pages_total), called as the copy advances.
Progress = Callable[[int, int], None]


class BackupError(Exception):
    """A backup, restore or check that cannot go on; the message is one line for the user."""


@dataclass(frozen=True)
class Problem:
    """One damaged thing: the file (relative path) and what is wrong with it."""

    file: str
    what: str

    def line(self) -> str:
        return f"{self.file}: {self.what}"


# -- backup ---------------------------------------------------------------------------------


def create_backup(
    data_dir: Path, out: Path, *, clock: Clock, progress: Progress | None = None
) -> dict[str, Any]:
    """Back up `data_dir` into `out` (missing or empty); return the manifest.

    Each database is copied from a snapshot and then checked (integrity and foreign keys)
    before the manifest is written, so a manifest means every file in it was verified.
    """
    if not (data_dir / "control.db").exists():
        raise BackupError(f"{data_dir} holds no control.db: nothing to back up")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not empty; name a new directory")
    out.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(out, PRIVATE_DIR)
    started = clock()
    try:
        copied = _copy_databases(data_dir, out, progress)
        entries = [_verified_entry(data_dir, out, relative) for relative in copied]
        entries += _copy_secrets(data_dir, out)
        manifest = {
            "format": FORMAT_VERSION,
            "product": "reliatic-appliance",
            "product_version": __version__,
            "started_at": format_ts(started),
            "finished_at": format_ts(clock()),
            "verified": True,
            "files": entries,
        }
        _write_atomically(out / MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n")
    except (SqliteFailed, OSError, BackupError) as exc:
        # Leave `out` empty, as it was: a half-written backup must not look like one.
        _empty(out)
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"backup failed, nothing kept in {out}: {reason_of(exc)}") from exc
    return manifest


def _copy_databases(data_dir: Path, out: Path, progress: Progress | None) -> list[Path]:
    """Snapshot every database, then copy each snapshot; return the relative paths copied.

    control.db is snapshotted first, and the backup takes exactly the tenant files that
    snapshot lists: each exists (a tenant's file is created before its row,
    services/tenants.py), and a file whose tenant is still being created is left out with
    its row. All snapshots are taken before any copy starts, so the files agree with each
    other to within the moment it takes to open them.
    """
    snapshots: list[tuple[Path, Snapshot]] = []
    try:
        control = Snapshot(data_dir / "control.db")
        snapshots.append((Path("control.db"), control))
        for tenant_id in control.tenant_ids():
            relative = Path("tenants") / f"{tenant_id}.db"
            snapshots.append((relative, Snapshot(data_dir / relative)))
        total = sum(snap.pages for _, snap in snapshots)
        done = 0

        def advance(pages: int) -> None:
            nonlocal done
            done += pages
            if progress is not None:
                progress(min(done, total), total)

        for relative, snap in snapshots:
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            snap.copy_to(target, advance)
            os.chmod(target, PRIVATE_FILE)
            _fsync(target)
    finally:
        for _, snap in snapshots:
            snap.close()
    return [relative for relative, _ in snapshots]


def _verified_entry(data_dir: Path, out: Path, relative: Path) -> dict[str, Any]:
    target = out / relative
    found = problems(target)
    if found:
        raise BackupError(f"the copy of {relative} fails its check: {found[0]}")
    facts = describe(target)
    return {
        **_file_entry(data_dir, out, relative),
        "schema_version": facts.schema_version,
        "tables": facts.tables,
    }


def _file_entry(data_dir: Path, out: Path, relative: Path) -> dict[str, Any]:
    target = out / relative
    source_mode = stat.S_IMODE((data_dir / relative).stat().st_mode)
    return {
        "path": relative.as_posix(),
        "size": target.stat().st_size,
        "sha256": sha256_of(target),
        # The mode the file had in the data dir: what a restore gives it back.
        "mode": f"{source_mode:04o}",
    }


def _copy_secrets(data_dir: Path, out: Path) -> list[dict[str, Any]]:
    source = data_dir / SECRET_DIR
    if not source.is_dir():
        raise BackupError(f"{source} is missing: the master key cannot be backed up")
    (out / SECRET_DIR).mkdir(mode=PRIVATE_DIR)
    entries = []
    for path in sorted(source.iterdir()):
        if not path.is_file():
            continue
        relative = SECRET_DIR / path.name
        _copy_file(path, out / relative, PRIVATE_FILE)
        entries.append(_file_entry(data_dir, out, relative))
    return entries


# -- check ----------------------------------------------------------------------------------


def check_data_dir(data_dir: Path) -> list[Problem]:
    """Integrity and foreign keys of every database of a data dir, and its master key."""
    if not (data_dir / "control.db").exists():
        raise BackupError(f"{data_dir} holds no control.db: not a data dir")
    files = database_files(data_dir)
    found = [
        Problem(relative.as_posix(), what)
        for relative in files
        for what in problems(data_dir / relative)
    ]
    if not (data_dir / SECRET_DIR / "master.key").is_file():
        found.append(Problem("secret/master.key", "missing"))
    return found + _tenant_files_agree(data_dir / "control.db", files, found)


def _tenant_files_agree(control: Path, files: list[Path], found: list[Problem]) -> list[Problem]:
    """Every tenant control.db lists has its file."""
    if any(p.file == "control.db" for p in found):
        return []  # a damaged control.db cannot be trusted to list them
    try:
        listed = tenants_listed(control)
    except SqliteFailed as exc:
        return [Problem("control.db", str(exc))]
    present = {p.stem for p in files if p.parent == Path("tenants")}
    # Not the other way round: a file without its row is no damage (a tenant being created
    # has one for a moment, and a backup leaves such a file out).
    return [
        Problem(f"tenants/{tenant_id}.db", f"missing: control.db lists tenant '{slug}'")
        for tenant_id, slug in sorted(listed.items())
        if tenant_id not in present
    ]


def load_manifest(backup: Path) -> dict[str, Any]:
    path = backup / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(
            f"{backup} has no {MANIFEST}: not a backup, or an unfinished one"
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{path} is not a manifest this release reads (format {FORMAT_VERSION})")
    files = manifest.get("files")
    if not isinstance(files, list) or not all(_well_formed(entry) for entry in files):
        raise BackupError(f"{path} lists a file this release would not write; not restoring it")
    return manifest


def _well_formed(entry: Any) -> bool:
    """A manifest entry that names a file of the layout and nothing else: a restore must
    never write outside the data dir (`../`) or set a mode beyond rwx (setuid)."""
    if not isinstance(entry, dict):
        return False
    mode, size, digest = entry.get("mode"), entry.get("size"), entry.get("sha256")
    return (
        isinstance(entry.get("path"), str)
        and _LAYOUT_PATH.match(entry["path"]) is not None
        and isinstance(size, int)
        and isinstance(digest, str)
        and isinstance(mode, str)
        and _MODE.match(mode) is not None
    )


def check_backup(backup: Path) -> list[Problem]:
    """The manifest against the files (missing, extra, size, checksum), and every database's
    integrity and foreign keys."""
    manifest = load_manifest(backup)
    found: list[Problem] = []
    listed = set()
    for entry in manifest["files"]:
        relative = str(entry["path"])
        listed.add(relative)
        path = backup / relative
        if not path.is_file():
            found.append(Problem(relative, "missing"))
            continue
        size = path.stat().st_size
        if size != entry["size"]:
            found.append(Problem(relative, f"size {size} bytes, the manifest says {entry['size']}"))
        elif sha256_of(path) != entry["sha256"]:
            found.append(Problem(relative, "checksum differs from the manifest"))
        if "schema_version" in entry:
            found += [Problem(relative, what) for what in problems(path)]
    for path in sorted(backup.rglob("*")):
        relative = path.relative_to(backup).as_posix()
        if path.is_file() and relative != MANIFEST and relative not in listed:
            found.append(Problem(relative, "not in the manifest"))
    if (backup / "control.db").is_file():
        found += _tenant_files_agree(backup / "control.db", database_files(backup), found)
    return found


# -- restore --------------------------------------------------------------------------------


def restore_backup(backup: Path, data_dir: Path) -> dict[str, Any]:
    """Restore `backup` into `data_dir`, which must be missing or empty and not held by a
    server. The backup is checked in full first: nothing is written from a damaged one."""
    manifest = load_manifest(backup)
    damaged = check_backup(backup)
    if damaged:
        raise BackupError(
            f"{backup} is damaged ({damaged[0].line()}; {len(damaged)} problem(s) in all,"
            " see 'reliatic check --backup'); nothing restored"
        )
    data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    try:
        with hold_data_dir(data_dir, exclusive=True):
            others = [p.name for p in data_dir.iterdir() if p.name != LOCK_FILE]
            if others:
                raise BackupError(
                    f"data dir {data_dir} is not empty ({len(others)} entries, e.g."
                    f" {sorted(others)[0]}); restore only into a missing or empty directory"
                )
            try:
                for entry in manifest["files"]:
                    relative = Path(entry["path"])
                    parent = (data_dir / relative).parent
                    parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
                    _copy_file(backup / relative, data_dir / relative, int(entry["mode"], 8))
                os.chmod(data_dir / SECRET_DIR, PRIVATE_DIR)
                _fsync(data_dir)
            except OSError as exc:
                # Back to empty: a half-restored data dir must never be served.
                _empty(data_dir, keep=LOCK_FILE)
                raise BackupError(
                    f"restore failed, {data_dir} left empty: {reason_of(exc)}"
                ) from exc
            _give_to_owner(data_dir)
    except DataDirBusy:
        raise BackupError(
            f"data dir {data_dir} is held by a running server; stop it before restoring"
        ) from None
    return {
        "restored_from": str(backup),
        "data_dir": str(data_dir),
        "files": len(manifest["files"]),
        "backup_finished_at": manifest["finished_at"],
    }


def _empty(directory: Path, *, keep: str | None = None) -> None:
    for path in directory.iterdir():
        if path.name == keep:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def reason_of(exc: BaseException) -> str:
    """One line saying what went wrong: an OSError's text and file, else the message."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return " ".join(str(exc).split())


def _give_to_owner(data_dir: Path) -> None:
    """Run as root into a dir the service user owns: the files become that user's, or the
    server (which runs as that user) could not open them."""
    owner = data_dir.stat()
    if os.geteuid() != 0 or owner.st_uid == 0:
        return
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)


# -- files ----------------------------------------------------------------------------------


def _copy_file(source: Path, target: Path, mode: int) -> None:
    """Copy via a temporary name, fsynced, with `mode`, then rename into place."""
    temporary = target.with_name(target.name + ".partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle, source.open("rb") as reader:
        shutil.copyfileobj(reader, handle, 1 << 20)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)
    os.replace(temporary, target)


def _write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(target.name + ".partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    _fsync(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
