"""Opaque, time-ordered identifiers: `<prefix>_` + 26 Crockford base32 characters.

48 bits of milliseconds then 80 random bits (the ULID layout), so ids sort roughly by
creation time and ids of different tenants never collide: an id from tenant B looked up
in tenant A's file is simply not there (SPEC §3: indistinguishable from a missing id).
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str, *, now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
