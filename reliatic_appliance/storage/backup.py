"""SQLite's side of backup, restore and check (SPEC §8): snapshots, the online backup API,
and the integrity and foreign-key checks of one file.

A backup may run in another process than the server (the CLI) or in a thread of the server
(the scheduler); both use apsw, so within each process every file has one binding (§8).

Consistency: each source file is read inside one read transaction that stays open for the
whole copy. In WAL mode that transaction is a snapshot: the server's writer goes on
committing (a reader never blocks it), and every page the backup copies belongs to the same
committed state, so SQLite never has to restart the copy because the source changed.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from reliatic_appliance.storage.sqlite import connect

# Pages per backup step (~1 MiB at SQLite's default 4 KiB page): small enough for a
# responsive progress bar, large enough that the steps' overhead does not show.
STEP_PAGES = 256
# A busy or locked step is retried after a pause that grows to this, for at most BUSY_PATIENCE.
BUSY_PAUSE_MAX = 0.5
BUSY_PATIENCE = 60.0

# Problems integrity_check reports per file: the first few locate the damage; a hundred
# lines of one broken page help nobody.
MAX_REPORTED = 10

_TENANT_FILE = re.compile(r"^ten_[0-9A-Z]{26}\.db$")
_INTERNAL_TABLE = re.compile(r"^sqlite_")


class SqliteFailed(Exception):
    """SQLite could not read a source or write a copy (a full disk, a damaged source…)."""


def database_files(data_dir: Path) -> list[Path]:
    """The databases of a data dir, relative to it: control.db first, then each tenant's."""
    found = [Path("control.db")] if (data_dir / "control.db").exists() else []
    tenants = data_dir / "tenants"
    if tenants.is_dir():
        found += sorted(
            Path("tenants") / p.name for p in tenants.iterdir() if _TENANT_FILE.match(p.name)
        )
    return found


def _retry_busy(action: Callable[[], Any]) -> Any:
    """Run `action`, retrying politely while the file is busy or locked."""
    deadline = time.monotonic() + BUSY_PATIENCE
    pause = 0.01
    while True:
        try:
            return action()
        except (apsw.BusyError, apsw.LockedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, BUSY_PAUSE_MAX)


class Snapshot:
    """A read transaction held open on one source file: what the backup copies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.conn = connect(path, readonly=True)
        except apsw.Error as exc:
            raise SqliteFailed(f"cannot open {path.name}: {_reason(exc)}") from exc

        def begin() -> int:
            self.conn.execute("BEGIN")
            try:
                # The first read fixes the snapshot; BEGIN alone takes no lock yet.
                row = self.conn.execute("PRAGMA page_count").fetchone()
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            assert row is not None
            return int(row["page_count"])

        try:
            self.pages: int = _retry_busy(begin)
        except apsw.Error as exc:
            self.conn.close()
            raise SqliteFailed(f"cannot read {path.name}: {_reason(exc)}") from exc
        except BaseException:
            self.conn.close()
            raise

    def copy_to(self, dest: Path, progress: Callable[[int], None]) -> None:
        """Copy the snapshot into a new file `dest`, `STEP_PAGES` at a time.

        `progress(pages)` is called after each step with the pages copied by it. The copy
        is left in rollback-journal mode: a backup is one self-contained file whose
        checksum does not change when it is opened to be checked; the server puts a
        restored file back into WAL mode when it opens it.
        """
        try:
            target = apsw.Connection(str(dest))
        except apsw.Error as exc:
            raise SqliteFailed(f"cannot create {dest.name}: {_reason(exc)}") from exc
        try:
            done_before = 0
            with target.backup("main", self.conn, "main") as job:
                while not job.done:
                    _retry_busy(lambda: job.step(STEP_PAGES))
                    done = job.page_count - job.remaining
                    progress(done - done_before)
                    done_before = done
            target.execute("PRAGMA journal_mode=DELETE")
        except apsw.Error as exc:
            raise SqliteFailed(f"copying {self.path.name} failed: {_reason(exc)}") from exc
        finally:
            target.close()

    def tenant_ids(self) -> list[str]:
        """The tenants this snapshot of control.db lists (read in the snapshot itself)."""
        return [row["id"] for row in self.conn.execute("SELECT id FROM tenants ORDER BY id")]

    def close(self) -> None:
        try:
            self.conn.execute("COMMIT")
        finally:
            self.conn.close()


@dataclass(frozen=True)
class FileFacts:
    """What a manifest records of one database file."""

    schema_version: int
    tables: dict[str, int]


def describe(path: Path) -> FileFacts:
    """The schema version (PRAGMA user_version) and the row count of each ordinary table."""
    conn = connect(path, readonly=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()
        assert version is not None
        names = [
            row["name"]
            for row in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table'"
                " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
            )
            if not _INTERNAL_TABLE.match(row["name"])
        ]
        tables = {}
        for name in names:
            # A name from sqlite_schema, quoted as an identifier (no parameter can be one).
            quoted = '"' + name.replace('"', '""') + '"'
            row = conn.execute(f"SELECT COUNT(*) AS n FROM {quoted}").fetchone()
            assert row is not None
            tables[name] = int(row["n"])
        return FileFacts(schema_version=int(version["user_version"]), tables=tables)
    finally:
        conn.close()


def problems(path: Path) -> list[str]:
    """What `PRAGMA integrity_check` and `PRAGMA foreign_key_check` find wrong; [] if nothing.

    Each entry is one line naming what is wrong (the file is the caller's to name).
    """
    try:
        conn = connect(path, readonly=True)
    except apsw.Error as exc:
        return [f"cannot be opened: {_reason(exc)}"]
    found: list[str] = []
    try:
        try:
            for row in conn.execute(f"PRAGMA integrity_check({MAX_REPORTED})"):
                for message in str(next(iter(row.values()))).splitlines():
                    if message != "ok" and not message.startswith("*** in database"):
                        found.append(f"integrity_check: {message}")
        except apsw.Error as exc:
            found.append(f"integrity_check failed: {_reason(exc)}")
        if found:
            # A damaged b-tree can make the foreign-key walk fail or mislead; one cause first.
            return found
        try:
            for row in conn.execute("PRAGMA foreign_key_check"):
                found.append(
                    f"foreign_key_check: {row['table']} row {row['rowid']} refers to a missing"
                    f" {row['parent']} (constraint {row['fkid']})"
                )
        except apsw.Error as exc:
            found.append(f"foreign_key_check failed: {_reason(exc)}")
        return found
    finally:
        conn.close()


def tenants_listed(control: Path) -> dict[str, str]:
    """tenant id -> slug, as control.db lists them (to find a tenant whose file is missing)."""
    try:
        conn = connect(control, readonly=True)
        try:
            return {row["id"]: row["slug"] for row in conn.execute("SELECT id, slug FROM tenants")}
        finally:
            conn.close()
    except apsw.Error as exc:
        raise SqliteFailed(f"cannot list its tenants: {_reason(exc)}") from exc


def _reason(exc: apsw.Error) -> str:
    return f"{type(exc).__name__}: {exc}".split("\n")[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
