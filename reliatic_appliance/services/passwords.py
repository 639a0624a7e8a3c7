"""Passwords of admin-panel users (SPEC §4): argon2id PHC strings, hashed off the event loop.

OWASP's argon2id floor: 19 MiB, 2 iterations, one lane. A hash takes ~50 ms of a core and
19 MiB, so `PasswordHasher` runs each in a worker thread and lets only `concurrency` run at
once: a burst of logins queues instead of taking every core and a few hundred MiB.
"""

from __future__ import annotations

import asyncio
import secrets

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from reliatic_appliance.errors import ValidationError

MEMORY_KIB = 19 * 1024
ITERATIONS = 2
LANES = 1
HASH_BYTES = 32
SALT_BYTES = 16
MIN_LENGTH = 12
# Far beyond any passphrase; a bound so nobody can make us hash a megabyte.
MAX_LENGTH = 1024

# The hash of a random password nobody knows, with the same parameters: a login for an
# unknown email is verified against it, so it costs the same hash as a known one and the
# response time says nothing about which emails exist.
DECOY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$XBxEFR1+qsAzw/a9gRxSmg"
    "$vbsgr5Kdjh/LWPKVi5Fet3tuBwqWEv8dYAEOebeCMVs"
)


def check_policy(password: str) -> None:
    """Refuse a password too short (or absurdly long) to keep, naming the rule."""
    if len(password) < MIN_LENGTH:
        raise ValidationError.field(
            "password", f"must be at least {MIN_LENGTH} characters long (a passphrase is good)"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationError.field("password", f"must be at most {MAX_LENGTH} characters long")


def hash_password(password: str) -> str:
    """The PHC string of `password` under a fresh salt (blocking: ~50 ms)."""
    kdf = Argon2id(
        salt=secrets.token_bytes(SALT_BYTES),
        length=HASH_BYTES,
        iterations=ITERATIONS,
        lanes=LANES,
        memory_cost=MEMORY_KIB,
    )
    return kdf.derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, phc: str) -> bool:
    """Does `password` match `phc`? Compared in constant time by cryptography (blocking)."""
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), phc)
    except InvalidKey:
        return False
    return True


class PasswordHasher:
    """Hashing and verifying in worker threads, at most `concurrency` at once. One per app
    (`keys.PASSWORD_HASHER`), so the bound holds for the whole process."""

    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(hash_password, password)

    async def verify(self, password: str, phc: str | None) -> bool:
        """`phc` None (no such user): spend the same hash on the decoy, then say no."""
        async with self._slots:
            matches = await asyncio.to_thread(verify_password, password, phc or DECOY_HASH)
        return matches and phc is not None
