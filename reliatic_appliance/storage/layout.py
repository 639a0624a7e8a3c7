"""The data dir layout (SPEC §8): control.db, tenants/, secret/master.key, and the lock file
that says whether a server holds the data dir."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from reliatic_appliance.storage.tenancy import control_file, migrate_file

MASTER_KEY_BYTES = 32
# flock()ed for as long as a server runs on the data dir (shared: two schedulers on one dir
# are allowed, see scheduler/runner.py) and by a restore (exclusive). The kernel drops the
# lock when the process dies, so a crashed server never leaves the dir "held".
LOCK_FILE = "reliatic.lock"


class DataDirBusy(Exception):
    """Another process holds the data dir in a way that excludes us."""


@contextlib.contextmanager
def hold_data_dir(data_dir: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the data dir's lock (shared: a server; exclusive: a restore) or raise DataDirBusy."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirBusy(str(data_dir)) from None
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def master_key_file(data_dir: Path) -> Path:
    return data_dir / "secret" / "master.key"


def initialise(data_dir: Path, busy_timeout_ms: int = 5000) -> dict[str, object]:
    """Create what is missing; never overwrite what exists (the master key above all)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tenants").mkdir(exist_ok=True)
    secret_dir = data_dir / "secret"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(secret_dir, 0o700)
    key_file = master_key_file(data_dir)
    created_key = False
    if not key_file.exists():
        # O_EXCL: two concurrent inits cannot both write a different key.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(MASTER_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        created_key = True
    os.chmod(key_file, 0o600)
    migrate_file(control_file(data_dir), "control", busy_timeout_ms=busy_timeout_ms)
    return {"data_dir": str(data_dir), "created_master_key": created_key}
