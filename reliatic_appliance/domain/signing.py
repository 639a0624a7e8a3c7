"""Webhook secrets and signatures, both header styles of SPEC §7.

Every delivery carries two independent signatures over the raw body:

* ``X-Reliatic-Signature: sha256=<hex>`` — HMAC-SHA256 keyed with the secret string's UTF-8
  bytes exactly as shown, ``whsec_`` included (what a receiver can reproduce with one line of
  any language, copying the secret verbatim);
* the Standard Webhooks trio ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature``,
  keyed, as that standard says, with the base64-decoded part after ``whsec_`` and signing
  ``"{id}.{timestamp}.{body}"`` — so any Standard Webhooks library can verify it and reject
  replays by timestamp.

Pure functions: the timestamp is passed in (each attempt is signed afresh by the caller with its
own time, since receivers reject timestamps older than 5 minutes). Only `generate_secret` reads
the OS random source.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Sequence
from dataclasses import dataclass, field

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# SPEC §7: a user-supplied secret must be `whsec_` + base64 of 24-64 bytes.
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
# Our own secrets: 256 bits, the HMAC-SHA256 block-size sweet spot and well inside the range.
GENERATED_SECRET_BYTES = 32
# What may not appear in a header value: a CR/LF would let a crafted id smuggle headers.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def generate_secret() -> str:
    """A new secret: ``whsec_`` + standard (padded) base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(GENERATED_SECRET_BYTES)).decode(
        "ascii"
    )


def _decode_secret(secret: str) -> bytes:
    """The key bytes of a valid secret; `ValueError` with a reason a user can act on otherwise.

    The messages never repeat the secret itself: they may end up in a log or an API error.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"webhook secret must start with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        # validate=True refuses characters outside the standard alphabet (URL-safe `-_`,
        # whitespace) instead of silently skipping them, so what the receiver decodes is
        # what we decode.
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"webhook secret must be {SECRET_PREFIX!r} followed by standard, padded base64"
        ) from None
    # Refuse non-canonical encodings (stray trailing bits): lenient decoders agree on the key,
    # but strict ones (e.g. Go's StdEncoding.Strict) reject them, and the receiver's library
    # must derive exactly our key.
    if base64.b64encode(key).decode("ascii") != encoded:
        raise ValueError("webhook secret is not canonical base64 (padding or trailing bits)")
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValueError(
            f"webhook secret must encode {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes, "
            f"got {len(key)}"
        )
    return key


def validate_secret(secret: str) -> None:
    """Raise `ValueError` unless `secret` is ``whsec_`` + valid base64 of 24-64 bytes."""
    _decode_secret(secret)


def reliatic_signature(secret: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of the raw body, keyed with the secret string verbatim."""
    return _reliatic_signature(secret.encode("utf-8"), body)


def _reliatic_signature(key: bytes, body: bytes) -> str:
    # hmac.digest: OpenSSL's one-shot HMAC, no Python-level HMAC object per signature.
    return "sha256=" + hmac.digest(key, body, hashlib.sha256).hex()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64 HMAC-SHA256 of ``"{msg_id}.{timestamp}." + body`` (Standard Webhooks).

    The key is the base64-decoded part after ``whsec_``; an invalid secret raises `ValueError`
    rather than signing with a key the receiver could never derive.
    """
    return _standard_signature(_decode_secret(secret), msg_id, timestamp, body)


def _standard_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.digest(key, signed, hashlib.sha256)
    return "v1," + base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class SigningKeys:
    """The HMAC keys of a delivery's active secrets, derived and validated once.

    Decoding and validating a secret costs about as much as the HMACs it keys, so a sender
    derives the keys once per subscription and secret set (`signing_keys`) and signs every
    attempt with them (`sign_with`). The keys are left out of `repr`: never log a secret.
    """

    standard: tuple[bytes, ...] = field(repr=False)  # decoded, oldest first
    verbatim: bytes = field(repr=False)  # the newest secret's UTF-8 bytes, `whsec_` included


def signing_keys(secrets: Sequence[str]) -> SigningKeys:
    """The keys of `secrets` (oldest first); `ValueError` if there is none or one is invalid."""
    if not secrets:
        raise ValueError("at least one webhook secret is needed to sign a delivery")
    return SigningKeys(
        standard=tuple(_decode_secret(secret) for secret in secrets),
        verbatim=secrets[-1].encode("utf-8"),
    )


def _check_header_value(name: str, value: str) -> None:
    # These values become HTTP header values; a CR/LF would let a crafted id smuggle headers.
    if not value or _CONTROL_CHARACTER.search(value):
        raise ValueError(f"{name} must be non-empty and free of control characters")


def sign_headers(
    *,
    secrets: Sequence[str],
    delivery_id: str,
    event_type: str,
    timestamp: int,
    body: bytes,
) -> dict[str, str]:
    """All headers of one delivery attempt, signed with every active secret.

    `secrets` is ordered oldest first. Outside a rotation it holds one secret; during the 24 h
    overlap after a rotation it holds the old and the new one, and ``webhook-signature`` lists
    a ``v1,`` signature for each (old first, then new), so a receiver verifies with whichever
    secret it currently has. ``X-Reliatic-Signature`` has room for one signature only, so it
    uses the newest secret, as SPEC §7 says.

    ``webhook-id`` is the delivery id: it stays the same across retries, which is what
    receivers de-duplicate on; the timestamp is the attempt's own.
    """
    return sign_with(
        signing_keys(secrets),
        delivery_id=delivery_id,
        event_type=event_type,
        timestamp=timestamp,
        body=body,
    )


def sign_with(
    keys: SigningKeys, *, delivery_id: str, event_type: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """`sign_headers` with keys derived beforehand (`signing_keys`): what a sender calls."""
    _check_header_value("delivery_id", delivery_id)
    _check_header_value("event_type", event_type)
    standard = " ".join(
        _standard_signature(key, delivery_id, timestamp, body) for key in keys.standard
    )
    return {
        "Content-Type": "application/json",
        "X-Reliatic-Signature": _reliatic_signature(keys.verbatim, body),
        "X-Reliatic-Event": event_type,
        "X-Reliatic-Delivery": delivery_id,
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
    }
