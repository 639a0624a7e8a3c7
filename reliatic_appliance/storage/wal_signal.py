"""A cheap "has anyone committed to this file since I last looked?", from the WAL index.

`PRAGMA data_version` answers it exactly, but as a statement: about 6 µs a call, and the
auth cache asks on every request (issue 16's profile of a GET). In WAL mode every commit,
by any connection of any process, rewrites the WAL-index header at the start of the
file's `-shm`: its change counter, last frame, salts and checksum
(https://www.sqlite.org/walformat.html, "The WAL-Index Header"). SQLite itself decides
whether its cache is stale by comparing that header, so an unchanged header means no
commit since it was read; one `pread` of it costs well under a microsecond.

Only ever a shortcut to "nothing changed": a header that differs, or one caught half
rewritten, sends the caller back to `PRAGMA data_version`, so the signal can cost a query
but never hide a commit. It watches the `-shm` file that exists while the file is open;
a data dir is only replaced (`reliatic restore`) while no server holds it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

# The first copy of the header (struct WalIndexHdr, 48 bytes): SQLite writes the second
# copy, then the first, on every commit.
HEADER_BYTES = 48


class WalSignal:
    """The WAL-index header of one database file, read on demand."""

    def __init__(self, shm: io.FileIO) -> None:
        self._shm = shm

    @classmethod
    def of(cls, database: str) -> WalSignal | None:
        """The signal of the database file at `database`; None if it has no `-shm` (not
        in WAL mode, or a memory database): the caller then always asks SQLite."""
        if not database:
            return None
        try:
            shm = io.FileIO(Path(database + "-shm"), "r")
        except OSError:
            return None
        return cls(shm)

    def header(self) -> bytes:
        try:
            return os.pread(self._shm.fileno(), HEADER_BYTES, 0)
        except (OSError, ValueError):
            return b""  # never equal to a header read before: the caller asks SQLite

    def close(self) -> None:
        self._shm.close()
