"""SPEC §7 webhook signatures, checked against the independent `standardwebhooks` library
and a hand-computed HMAC, plus the secret validation rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from reliatic_appliance.domain.signing import (
    generate_secret,
    reliatic_signature,
    sign_headers,
    standard_signature,
    validate_secret,
)

BODY = json.dumps(
    {"id": "42", "delivery_id": "dlv_01", "type": "asset.updated", "data": {"after": {"t": "é"}}}
).encode()
DELIVERY = "dlv_01HX3Y"


def _secret(n: int, fill: int = 7) -> str:
    return "whsec_" + base64.b64encode(bytes([fill]) * n).decode()


def _now() -> int:
    # standardwebhooks checks the timestamp against the wall clock (5 min tolerance).
    return int(time.time())


def test_generated_secret_is_valid_and_random() -> None:
    first, second = generate_secret(), generate_secret()
    validate_secret(first)
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first[6:])) == 32
    assert first != second


def test_single_secret_verifies_with_standardwebhooks() -> None:
    secret = generate_secret()
    headers = sign_headers(
        secrets=[secret],
        delivery_id=DELIVERY,
        event_type="asset.updated",
        timestamp=_now(),
        body=BODY,
    )
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-id"] == DELIVERY
    assert headers["X-Reliatic-Delivery"] == DELIVERY
    assert headers["X-Reliatic-Event"] == "asset.updated"
    assert headers["Content-Type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")
    assert " " not in headers["webhook-signature"]


def test_rotation_both_secrets_verify_and_reliatic_uses_the_new_one() -> None:
    old, new = generate_secret(), generate_secret()
    headers = sign_headers(
        secrets=[old, new], delivery_id=DELIVERY, event_type="ping", timestamp=_now(), body=BODY
    )
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    old_sig, new_sig = headers["webhook-signature"].split(" ")
    assert old_sig == standard_signature(old, DELIVERY, int(headers["webhook-timestamp"]), BODY)
    assert new_sig == standard_signature(new, DELIVERY, int(headers["webhook-timestamp"]), BODY)
    assert headers["X-Reliatic-Signature"] == reliatic_signature(new, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_tampered_body_or_timestamp_is_rejected_by_standardwebhooks() -> None:
    secret = generate_secret()
    ts = _now()
    headers = sign_headers(
        secrets=[secret], delivery_id=DELIVERY, event_type="ping", timestamp=ts, body=BODY
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"42", b"43"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-timestamp": str(ts - 1)})


def test_old_timestamp_is_rejected_so_each_attempt_must_be_signed_afresh() -> None:
    secret = generate_secret()
    headers = sign_headers(
        secrets=[secret],
        delivery_id=DELIVERY,
        event_type="ping",
        timestamp=_now() - 600,
        body=BODY,
    )
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_reliatic_signature_matches_hand_hmac_keyed_with_the_whole_secret_string() -> None:
    secret = generate_secret()
    headers = sign_headers(
        secrets=[secret], delivery_id=DELIVERY, event_type="ping", timestamp=1, body=BODY
    )
    expected = hmac.new(secret.encode("utf-8"), BODY, hashlib.sha256).hexdigest()
    assert headers["X-Reliatic-Signature"] == f"sha256={expected}"
    # Not keyed with the decoded bytes: that is the Standard Webhooks key, a different one.
    decoded = base64.b64decode(secret[6:])
    assert expected != hmac.new(decoded, BODY, hashlib.sha256).hexdigest()


def test_standard_signature_known_answer() -> None:
    secret = _secret(32)
    key = bytes([7]) * 32
    expected = base64.b64encode(
        hmac.new(key, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    ).decode()
    assert standard_signature(secret, "msg_1", 1700000000, BODY) == f"v1,{expected}"


def test_signature_changes_with_the_timestamp() -> None:
    secret = generate_secret()
    assert standard_signature(secret, "m", 1, BODY) != standard_signature(secret, "m", 2, BODY)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        pytest.param(base64.b64encode(b"x" * 32).decode(), "must start with", id="no-prefix"),
        pytest.param("whsk_" + base64.b64encode(b"x" * 32).decode(), "must start", id="typo"),
        pytest.param("WHSEC_" + base64.b64encode(b"x" * 32).decode(), "must start", id="case"),
        pytest.param("whsec_" + "!" * 44, "base64", id="bad-alphabet"),
        pytest.param(
            "whsec_" + base64.urlsafe_b64encode(b"\xff" * 32).decode(), "base64", id="urlsafe"
        ),
        pytest.param("whsec_" + base64.b64encode(b"x" * 32).decode()[:-1], "base64", id="pad"),
        pytest.param("whsec_ " + base64.b64encode(b"x" * 32).decode(), "base64", id="space"),
        pytest.param("whsec_QR==", "canonical", id="trailing-bits"),
        pytest.param("whsec_", "got 0", id="empty"),
        pytest.param(_secret(23), "got 23", id="23-bytes"),
        pytest.param(_secret(65), "got 65", id="65-bytes"),
    ],
)
def test_invalid_secrets_are_refused(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_secret(secret)


@pytest.mark.parametrize("size", [24, 32, 48, 64])
def test_valid_secret_sizes(size: int) -> None:
    secret = _secret(size)
    validate_secret(secret)
    headers = sign_headers(
        secrets=[secret], delivery_id=DELIVERY, event_type="ping", timestamp=_now(), body=BODY
    )
    Webhook(secret).verify(BODY, headers)


def test_signing_refuses_an_invalid_secret_and_no_secret() -> None:
    with pytest.raises(ValueError):
        sign_headers(
            secrets=[_secret(8)], delivery_id="d", event_type="ping", timestamp=1, body=b""
        )
    with pytest.raises(ValueError, match="at least one"):
        sign_headers(secrets=[], delivery_id="d", event_type="ping", timestamp=1, body=b"")


@pytest.mark.parametrize("bad", ["", "a\r\nX-Evil: 1", "a\nb", "a\x00"])
def test_header_injection_is_refused(bad: str) -> None:
    secret = generate_secret()
    with pytest.raises(ValueError, match="control characters"):
        sign_headers(secrets=[secret], delivery_id=bad, event_type="ping", timestamp=1, body=b"")
    with pytest.raises(ValueError, match="control characters"):
        sign_headers(secrets=[secret], delivery_id="d", event_type=bad, timestamp=1, body=b"")


def test_error_messages_never_contain_the_secret() -> None:
    secret = _secret(23)
    with pytest.raises(ValueError) as caught:
        validate_secret(secret)
    assert secret[6:] not in str(caught.value)
