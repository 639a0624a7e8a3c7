"""What a read connection may remember between requests: valid until the file changes.

`PRAGMA data_version` on a connection changes whenever *another* connection (the writer
thread, the CLI in another process, a restore) has committed to the file since it last
looked, and it is read inside the caller's read transaction, so it names exactly the
snapshot the caller's queries see. A value remembered under one version is therefore
right for as long as the version stays the same, and it is never consulted again once it
moves: list totals and deep-page anchors can be reused without ever being stale.

A connection's own writes do not move its data_version, so nothing is remembered on a
connection that has ever written (`total_changes() > 0`): in the server that is the
writer thread's, and the read connection on the loop never writes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

import apsw

from reliatic_appliance.storage.sqlite import scalar
from reliatic_appliance.storage.wal_signal import WalSignal

# Bounds, so memory stays flat however many different filters clients send.
MAX_COUNTS = 1024
MAX_ANCHOR_LISTS = 32
MAX_PLANS = 512

T = TypeVar("T")
CountKey = tuple[str, tuple[Any, ...]]
AnchorKey = tuple[str, str, tuple[Any, ...]]


class Snapshot:
    """Totals and anchors known for one data_version of one connection."""

    __slots__ = ("anchors", "counts", "header", "values", "version")

    def __init__(self, version: int) -> None:
        self.version = version
        # The file's WAL-index header, read before `version` was (wal_signal.py).
        self.header = b""
        self.counts: dict[CountKey, int] = {}
        self.values: dict[tuple[Any, ...], Any] = {}
        self.anchors: OrderedDict[AnchorKey, tuple[list[int], list[Any]]] = OrderedDict()

    def anchors_of(self, key: AnchorKey) -> tuple[list[int], list[Any]]:
        """The (positions, ids) anchor lists of one list query, created empty."""
        found = self.anchors.get(key)
        if found is None:
            if len(self.anchors) >= MAX_ANCHOR_LISTS:
                self.anchors.popitem(last=False)
            found = self.anchors[key] = ([], [])
        return found

    def remember_count(self, key: CountKey, total: int) -> None:
        if len(self.counts) >= MAX_COUNTS:
            self.counts.clear()
        self.counts[key] = total


def _memo(conn: apsw.Connection) -> dict[str, Any] | None:
    # Only our own connections (storage.sqlite.Connection) carry a memo; the cache lives and
    # dies with the connection, and a connection is only ever used by one thread.
    return getattr(conn, "memo", None)


def _signal(conn: apsw.Connection, memo: dict[str, Any]) -> WalSignal | None:
    if "wal_signal" not in memo:
        memo["wal_signal"] = WalSignal.of(conn.filename)
    signal: WalSignal | None = memo["wal_signal"]
    return signal


def current(conn: apsw.Connection) -> Snapshot | None:
    """The cache of `conn`'s current snapshot, or None if `conn` may not cache."""
    memo = _memo(conn)
    if memo is None or conn.total_changes():
        return None
    found: Snapshot | None = memo.get("snapshot")
    signal = _signal(conn, memo)
    header = signal.header() if signal is not None else b""
    # Outside a transaction only: inside one, the snapshot its statements see may begin
    # after this header was read. Outside, a commit after the read is simply later than
    # this request. `make bench`, "GET one asset": the auth cache asks on every request.
    if found is not None and header and header == found.header and not conn.in_transaction:
        return found
    version = int(scalar(conn, "PRAGMA data_version"))
    if found is None or found.version != version:
        found = memo["snapshot"] = Snapshot(version)
    found.header = header
    return found


def remembered(conn: apsw.Connection, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """`compute()`, reused for as long as the file has not changed (e.g. an API key's row:
    a revocation by another process moves data_version, so it is seen on the next use)."""
    snap = current(conn)
    if snap is None:
        return compute()
    if key in snap.values:
        return cast(T, snap.values[key])  # stored by this function for `key`: a T
    value = compute()
    if len(snap.values) >= MAX_COUNTS:
        snap.values.clear()
    snap.values[key] = value
    return value


def ordered_by_index(conn: apsw.Connection, table: str, clause: str, params: list[Any]) -> bool:
    """Does `SELECT id FROM table<clause> ORDER BY id` walk an index in order (no sort)?"""
    sql = f"SELECT id FROM {table}{clause} ORDER BY id"
    memo = _memo(conn)
    plans: OrderedDict[str, bool] = (
        memo.setdefault("plans", OrderedDict()) if memo is not None else OrderedDict()
    )
    known = plans.get(sql)
    if known is not None:
        return known
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    details = " ".join(str(r["detail"] if isinstance(r, dict) else r[-1]) for r in plan)
    ordered = "TEMP B-TREE" not in details
    plans[sql] = ordered
    if len(plans) > MAX_PLANS:
        plans.popitem(last=False)
    return ordered
