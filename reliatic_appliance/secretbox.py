"""Webhook secrets encrypted at rest (SPEC §7: "stored encrypted at rest, never in clear").

The 32-byte master key lives in ``<data_dir>/secret/master.key`` (mode 0600, made by
`reliatic init`, SPEC §8). It is never used directly: HKDF-SHA256 derives a subkey for this one
purpose (``info=b"reliatic webhook secrets v1"``), so the same master key can key other things
later without two uses ever sharing a key.

Blob layout: ``b"\\x01"`` (format version) + 12-byte random nonce + AES-256-GCM ciphertext and
tag. The version byte and the caller's `associated_data` (e.g. the subscription id) are
authenticated, so a blob copied into another row, or edited in any byte, fails to decrypt
instead of yielding some other subscription's secret. Random 96-bit nonces are safe here: a key
encrypts a few secrets per subscription, far below GCM's ~2^32-message limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_BYTES = 32
VERSION = b"\x01"
NONCE_BYTES = 12
TAG_BYTES = 16
HKDF_INFO = b"reliatic webhook secrets v1"


class SecretBoxError(Exception):
    """A master key that cannot be used, or a blob that cannot be decrypted.

    Messages name files and reasons, never key material or plaintext.
    """


class SecretBox:
    """Encrypts and decrypts short secrets with a subkey of the master key."""

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise SecretBoxError(
                f"master key must be {MASTER_KEY_BYTES} bytes, got {len(master_key)}"
            )
        # No salt: the master key is already uniformly random; `info` separates the purpose.
        subkey = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
            master_key
        )
        # Only the cipher object is kept, not the master key.
        self._aead = AESGCM(subkey)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """Load the master key file, refusing one that is missing, malformed or exposed.

        Checked on the opened descriptor (fstat), so the file checked is the file read.
        Group/other permissions of any kind are refused: a key others can read is no secret,
        and one they can write could be swapped for theirs.
        """
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise SecretBoxError(
                f"master key file {path} is missing (run `reliatic init`)"
            ) from None
        except OSError as exc:
            raise SecretBoxError(
                f"master key file {path} cannot be opened: {exc.strerror}"
            ) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SecretBoxError(f"master key file {path} is not a regular file")
            if info.st_mode & 0o077:
                raise SecretBoxError(
                    f"master key file {path} has mode {stat.S_IMODE(info.st_mode):04o}; "
                    "it must not be accessible to group or others (chmod 600)"
                )
            # One byte more than needed, to tell "exactly 32" from "32 and more".
            key = os.read(fd, MASTER_KEY_BYTES + 1)
        finally:
            os.close(fd)
        if len(key) != MASTER_KEY_BYTES:
            raise SecretBoxError(
                f"master key file {path} must hold exactly {MASTER_KEY_BYTES} bytes"
            )
        return cls(key)

    def encrypt(self, plaintext: str, *, associated_data: bytes) -> bytes:
        """Encrypt `plaintext`, bound to `associated_data` (e.g. the subscription id)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), VERSION + associated_data)
        return VERSION + nonce + sealed

    def decrypt(self, blob: bytes, *, associated_data: bytes) -> str:
        """The plaintext of `blob`; `SecretBoxError` if it was altered, moved or keyed otherwise."""
        if len(blob) < len(VERSION) + NONCE_BYTES + TAG_BYTES:
            raise SecretBoxError("encrypted secret is truncated")
        if blob[:1] != VERSION:
            raise SecretBoxError(f"encrypted secret has unknown format version {blob[0]}")
        nonce = blob[1 : 1 + NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, blob[1 + NONCE_BYTES :], VERSION + associated_data)
        except InvalidTag:
            raise SecretBoxError(
                "encrypted secret failed authentication "
                "(tampered, wrong master key, or stored under another record)"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretBoxError("decrypted secret is not valid UTF-8") from None
