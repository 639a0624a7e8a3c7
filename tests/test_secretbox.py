"""SPEC §7 webhook secrets at rest: AES-256-GCM under an HKDF subkey of the master key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliatic_appliance.domain.signing import generate_secret
from reliatic_appliance.secretbox import SecretBox, SecretBoxError

KEY = bytes(range(32))
AD = b"subscription:01HX3Y"


def test_round_trip() -> None:
    box = SecretBox(KEY)
    secret = generate_secret()
    blob = box.encrypt(secret, associated_data=AD)
    assert box.decrypt(blob, associated_data=AD) == secret
    # A fresh box from the same key (a restarted server) decrypts it too.
    assert SecretBox(KEY).decrypt(blob, associated_data=AD) == secret


def test_layout_and_fresh_nonce_each_time() -> None:
    box = SecretBox(KEY)
    first = box.encrypt("whsec_abc", associated_data=AD)
    second = box.encrypt("whsec_abc", associated_data=AD)
    assert first[:1] == b"\x01"
    assert len(first) == 1 + 12 + len("whsec_abc") + 16
    assert first[1:13] != second[1:13]
    assert first != second


def test_plaintext_never_appears_in_the_blob() -> None:
    secret = generate_secret()
    blob = SecretBox(KEY).encrypt(secret, associated_data=AD)
    assert secret.encode() not in blob
    assert secret[6:].encode() not in blob
    assert b"whsec_" not in blob


def test_unicode_round_trip() -> None:
    box = SecretBox(KEY)
    assert box.decrypt(box.encrypt("clé ✓", associated_data=b""), associated_data=b"") == "clé ✓"


@pytest.mark.parametrize("index", [0, 1, 12, 13, -1])
def test_any_tampered_byte_is_refused(index: int) -> None:
    box = SecretBox(KEY)
    blob = bytearray(box.encrypt(generate_secret(), associated_data=AD))
    blob[index] ^= 0x01
    with pytest.raises(SecretBoxError):
        box.decrypt(bytes(blob), associated_data=AD)


def test_unknown_version_and_truncation_are_refused() -> None:
    box = SecretBox(KEY)
    blob = box.encrypt("whsec_x", associated_data=AD)
    with pytest.raises(SecretBoxError, match="version"):
        box.decrypt(b"\x02" + blob[1:], associated_data=AD)
    with pytest.raises(SecretBoxError, match="truncated"):
        box.decrypt(blob[:20], associated_data=AD)
    with pytest.raises(SecretBoxError, match="truncated"):
        box.decrypt(b"", associated_data=AD)


def test_wrong_associated_data_is_refused() -> None:
    box = SecretBox(KEY)
    blob = box.encrypt(generate_secret(), associated_data=b"subscription:1")
    with pytest.raises(SecretBoxError, match="authentication"):
        box.decrypt(blob, associated_data=b"subscription:2")


def test_wrong_key_is_refused() -> None:
    blob = SecretBox(KEY).encrypt(generate_secret(), associated_data=AD)
    with pytest.raises(SecretBoxError, match="authentication"):
        SecretBox(bytes(32)).decrypt(blob, associated_data=AD)


def test_master_key_is_not_used_directly() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    blob = SecretBox(KEY).encrypt("whsec_x", associated_data=AD)
    with pytest.raises(Exception):  # noqa: B017 - InvalidTag: the subkey differs from the key
        AESGCM(KEY).decrypt(blob[1:13], blob[13:], b"\x01" + AD)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_master_key_length(size: int) -> None:
    with pytest.raises(SecretBoxError, match="32 bytes"):
        SecretBox(b"k" * size)


def _key_file(tmp_path: Path, content: bytes = KEY, mode: int = 0o600) -> Path:
    path = tmp_path / "secret" / "master.key"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


def test_from_file(tmp_path: Path) -> None:
    box = SecretBox.from_file(_key_file(tmp_path))
    blob = box.encrypt("whsec_x", associated_data=AD)
    assert SecretBox(KEY).decrypt(blob, associated_data=AD) == "whsec_x"
    assert "KEY" not in repr(box) and repr(KEY) not in repr(box)


@pytest.mark.parametrize("mode", [0o400, 0o600, 0o700])
def test_from_file_owner_only_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    SecretBox.from_file(_key_file(tmp_path, mode=mode))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602, 0o620, 0o610, 0o601])
def test_from_file_group_or_other_access_is_refused(tmp_path: Path, mode: int) -> None:
    with pytest.raises(SecretBoxError, match=f"mode {mode:04o}.*group or others"):
        SecretBox.from_file(_key_file(tmp_path, mode=mode))


def test_from_file_missing(tmp_path: Path) -> None:
    with pytest.raises(SecretBoxError, match=r"missing.*reliatic init"):
        SecretBox.from_file(tmp_path / "secret" / "master.key")


@pytest.mark.parametrize("content", [b"", KEY[:31], KEY + b"\n", KEY * 2])
def test_from_file_wrong_size(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(SecretBoxError, match="exactly 32 bytes"):
        SecretBox.from_file(_key_file(tmp_path, content=content))


def test_from_file_not_a_regular_file(tmp_path: Path) -> None:
    directory = tmp_path / "master.key"
    directory.mkdir(mode=0o700)
    with pytest.raises(SecretBoxError):
        SecretBox.from_file(directory)


def test_from_file_works_with_the_key_reliatic_init_writes(tmp_path: Path) -> None:
    from reliatic_appliance.storage.layout import initialise, master_key_file

    initialise(tmp_path)
    box = SecretBox.from_file(master_key_file(tmp_path))
    assert box.decrypt(box.encrypt("whsec_x", associated_data=AD), associated_data=AD)
