"""The audit log's hash chain (SPEC §5): what an entry's hash covers, and how a chain is
checked. Pure functions; storage keeps the rows, services/audit.py writes and walks them.

An entry's `hash` is the SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8), which
includes its position `seq` and `prev_hash`, the previous entry's `hash` (64 zeros for the
first). So an altered entry no longer matches its hash; a removed or reordered one leaves a
gap in `seq` or a `prev_hash` that points at the wrong entry; a removed newest entry leaves the
chain's recorded head pointing past the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64

# The fields an entry's hash covers: everything it records. `tenant_id` is not among them:
# a chain is per tenant already, and the tenant's own file does not store it.
HASHED_FIELDS = (
    "seq",
    "id",
    "at",
    "actor",
    "address",
    "action",
    "target_type",
    "target_id",
    "changes",
    "prev_hash",
)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash of an entry; `changes` as a JSON object (a dict), not as stored text."""
    return hashlib.sha256(canonical({name: entry[name] for name in HASHED_FIELDS})).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first place a chain does not hold: the entry (or None past the end) and why."""

    seq: int
    entry_id: str | None
    reason: str

    def describe(self) -> str:
        where = f"entry {self.entry_id} (#{self.seq})" if self.entry_id else f"#{self.seq}"
        return f"{where}: {self.reason}"


@dataclass
class ChainWalk:
    """Walks one chain in `seq` order, an entry at a time (so a long chain is read in
    batches); `finish` compares the end with the recorded head."""

    checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    broken: ChainBreak | None = None

    def step(self, entry: Mapping[str, Any]) -> bool:
        """Check one entry; False once the chain is broken (stop walking)."""
        if self.broken is not None:
            return False
        seq, entry_id = int(entry["seq"]), str(entry["id"])
        if seq != self.last_seq + 1:
            self.broken = ChainBreak(
                self.last_seq + 1,
                None,
                f"missing: the chain jumps from #{self.last_seq} to #{seq} ({entry_id});"
                " an entry was removed",
            )
            return False
        if entry_hash(entry) != entry["hash"]:
            self.broken = ChainBreak(seq, entry_id, "altered: its content does not match its hash")
            return False
        if entry["prev_hash"] != self.last_hash:
            self.broken = ChainBreak(
                seq,
                entry_id,
                "out of chain: it does not follow the entry before it (removed or reordered)",
            )
            return False
        self.checked += 1
        self.last_seq, self.last_hash = seq, str(entry["hash"])
        return True

    def finish(self, head: tuple[int, str] | None) -> ChainBreak | None:
        if self.broken is not None:
            return self.broken
        head_seq, head_hash = head if head is not None else (0, GENESIS)
        if head_seq != self.last_seq or head_hash != self.last_hash:
            self.broken = ChainBreak(
                self.last_seq + 1 if head_seq > self.last_seq else head_seq,
                None,
                f"the chain ends at #{self.last_seq} but its recorded head is #{head_seq}:"
                " the newest entries were removed or the head was altered",
            )
        return self.broken


def walk(entries: Iterable[Mapping[str, Any]], head: tuple[int, str] | None) -> ChainWalk:
    """Check a whole chain (tests, small chains); services walk in batches with ChainWalk."""
    chain = ChainWalk()
    for entry in entries:
        if not chain.step(entry):
            break
    chain.finish(head)
    return chain
