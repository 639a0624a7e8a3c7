"""The WAL-index change signal behind the auth cache (storage/wal_signal.py, issue 16).

Real files, and the commits come from another process, as a `reliatic key revoke` would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import apsw
import pytest

from reliatic_appliance.storage import snapshot
from reliatic_appliance.storage.sqlite import Connection, connect
from reliatic_appliance.storage.wal_signal import WalSignal


def _commit_from_another_process(path: Path, value: int) -> None:
    script = (
        "import apsw, sys; c = apsw.Connection(sys.argv[1]);"
        " c.execute('INSERT INTO t VALUES (?)', (int(sys.argv[2]),)); c.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(path), str(value)], check=True)


@pytest.fixture
def conn(tmp_path: Path) -> Connection:
    path = tmp_path / "file.db"
    writer = connect(path)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.close()
    reader = connect(path)
    return reader


def _pragmas(conn: Connection) -> list[str]:
    seen: list[str] = []

    def trace(_cursor: apsw.Cursor, sql: str, _bindings: object) -> bool:
        if "data_version" in sql:
            seen.append(sql)
        return True

    conn.exec_trace = trace
    return seen


def test_the_header_moves_with_every_commit_and_only_then(conn: Connection) -> None:
    signal = WalSignal.of(conn.filename)
    assert signal is not None
    before = signal.header()
    assert len(before) == 48
    assert conn.execute("SELECT count(*) FROM t").fetchall()  # a read changes nothing
    assert signal.header() == before
    seen = {before}
    for value in range(3):
        _commit_from_another_process(Path(conn.filename), value)
        header = signal.header()
        assert header not in seen  # a new header for each commit, never one seen before
        seen.add(header)
    signal.close()


def test_an_unchanged_file_is_not_asked_again_a_commit_is_seen(conn: Connection) -> None:
    pragmas = _pragmas(conn)
    first = snapshot.current(conn)
    assert first is not None and len(pragmas) == 1
    assert snapshot.current(conn) is first and snapshot.current(conn) is first
    assert len(pragmas) == 1  # the header answered: nothing committed since
    _commit_from_another_process(Path(conn.filename), 1)
    moved = snapshot.current(conn)
    assert moved is not None and moved.version != first.version and len(pragmas) == 2
    computed: list[int] = []
    assert snapshot.remembered(conn, ("k",), lambda: computed.append(1) or 7) == 7
    assert snapshot.remembered(conn, ("k",), lambda: computed.append(1) or 8) == 7
    _commit_from_another_process(Path(conn.filename), 2)
    assert snapshot.remembered(conn, ("k",), lambda: computed.append(1) or 9) == 9
    assert computed == [1, 1]


def test_inside_a_transaction_sqlite_is_always_asked(conn: Connection) -> None:
    pragmas = _pragmas(conn)
    assert snapshot.current(conn) is not None
    conn.execute("BEGIN")
    try:
        snapshot.current(conn)
        snapshot.current(conn)
    finally:
        conn.execute("COMMIT")
    assert len(pragmas) == 3


def test_no_shm_no_shortcut(tmp_path: Path) -> None:
    assert WalSignal.of(str(tmp_path / "missing.db")) is None
    assert WalSignal.of("") is None  # a memory database has no file name
    memory = connect(Path(":memory:"))
    pragmas = _pragmas(memory)
    snapshot.current(memory)
    snapshot.current(memory)
    assert len(pragmas) == 2
    memory.close()
