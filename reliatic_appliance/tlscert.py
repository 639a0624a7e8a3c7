"""TLS for `serve` (SPEC §8): self-signed certificates, and the server's `ssl.SSLContext`.

`make_self_signed` is what `reliatic init --tls` writes (and what `reliatic selftest` uses
for its throwaway receiver); `server_context` is what `serve` listens with, and it turns
every way a configured pair can be wrong into one line an operator can act on, before the
server starts (a missing file, an unreadable key, a key that is not the certificate's).
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Two years: long enough that a plant server does not break between two visits of its IT
# team, short enough to be renewed with the hardware. Public CAs' 398-day limit is for
# certificates browsers trust by default; a plant-local self-signed one is trusted by hand.
DEFAULT_VALIDITY = timedelta(days=730)
# Backdated a little: a client whose clock is a few minutes behind must not see it as
# "not yet valid" right after `init --tls`.
CLOCK_SKEW = timedelta(minutes=5)


class TlsError(Exception):
    """A certificate or key that cannot be used; `str()` is one line naming the file."""


@dataclass(frozen=True)
class SelfSigned:
    cert_pem: bytes
    key_pem: bytes
    not_after: datetime


def split_names(
    names: Iterable[str],
) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    """DNS names and IP addresses, each once, in the order given."""
    dns: list[str] = []
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for name in names:
        try:
            ip = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            lowered = name.lower().rstrip(".")
            if lowered and lowered not in dns:
                dns.append(lowered)
            continue
        if ip not in ips:
            ips.append(ip)
    return dns, ips


def make_self_signed(
    names: Iterable[str], *, now: datetime, validity: timedelta = DEFAULT_VALIDITY
) -> SelfSigned:
    """An ECDSA P-256 key and a self-signed server certificate whose SANs are `names`
    (host names and IP addresses; the first name is also the subject's CN)."""
    dns, ips = split_names(names)
    if not dns and not ips:
        raise TlsError("a certificate needs at least one host name or address")
    key = ec.generate_private_key(ec.SECP256R1())
    common = dns[0] if dns else str(ips[0])
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Reliatic Appliance (self-signed)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common[:64]),
        ]
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ip) for ip in ips]
    public = key.public_key()
    not_after = now + validity
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        # A server certificate, not a CA: clients trust exactly it (`curl --cacert`,
        # `cafile=`), and browsers refuse a CA certificate used as a server's.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SelfSigned(cert.public_bytes(serialization.Encoding.PEM), key_pem, not_after)


def read_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file; `TlsError` naming the file otherwise."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise TlsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:
        raise TlsError(f"{path}: not a PEM certificate") from None


def subject_names(cert: x509.Certificate) -> list[str]:
    """The certificate's SAN entries (DNS names and addresses) as text."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*sans.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in sans.get_values_for_type(x509.IPAddress)
    ]


def _no_password() -> bytes:
    return b""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The context `serve` listens with: TLS 1.2 or newer, Python's server defaults.

    Every file problem is a `TlsError` naming the setting and the file, so the server
    refuses to start with one line instead of a traceback or a half-working listener.
    """
    for setting, path in (("tls_cert", cert), ("tls_key", key)):
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise TlsError(
                f"[server] {setting} {path}: cannot read: {exc.strerror or exc}"
            ) from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # A password callback, so an encrypted key fails here instead of OpenSSL prompting
        # on a terminal (or hanging a service that has none).
        context.load_cert_chain(cert, key, password=_no_password)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsError(
                f"[server] tls_key {key} does not belong to tls_cert {cert}"
                " (the key and the certificate must be a pair)"
            ) from None
        raise TlsError(
            f"[server] tls_cert {cert} / tls_key {key}: cannot load:"
            f" {exc.reason or exc.strerror or exc} (PEM files expected; an encrypted key"
            " is not supported)"
        ) from None
    return context
