"""Which webhook targets the appliance may call (SPEC §7, target safety).

A webhook URL is user input that makes the server open connections from inside the plant
network, so it is a server-side request forgery vector. Two checks, both pure:

* `check_url` when a subscription is created or a delivery starts: scheme, host, no credentials,
  and — for a literal IP host — the address rules below;
* `check_address` on every address a host resolves to, at connection time (the guarded resolver
  in `scheduler.resolver` calls it), so DNS rebinding cannot get around the URL check.

Address rules (SPEC §7 plus the special ranges around them), version-independent tables rather
than `ipaddress.is_private`/`is_global`, whose meaning changed between CPython patch releases:

* always refused: 0.0.0.0/8 and ``::``; link-local and metadata (169.254.0.0/16, fe80::/10, and
  the metadata addresses outside it: 100.100.100.200, fd00:ec2::254); multicast (224.0.0.0/4,
  ff00::/8); 240.0.0.0/4 (reserved, incl. broadcast 255.255.255.255); deprecated IPv4-compatible
  IPv6 (::/96), Teredo (2001::/32) and local-use NAT64 (64:ff9b:1::/48), whose real destination
  cannot be checked reliably;
* IPv4 inside IPv6 — mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16) — is
  judged by the IPv4 rules for the embedded address (``::ffff:127.0.0.1`` is loopback);
* loopback (127.0.0.0/8, ::1) only with `allow_loopback`;
* the plant LAN — RFC 1918 (10/8, 172.16/12, 192.168/16), CGNAT 100.64/10, benchmarking
  198.18/15, IETF 192.0.0.0/24, unique-local fc00::/7 and deprecated site-local fec0::/10 —
  only with `allow_private`;
* everything else, i.e. global unicast, is allowed (documentation ranges such as 203.0.113.0/24
  included: nothing routes them, so refusing them would add no safety).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import urlsplit

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network


class TargetRefused(ValueError, OSError):
    """A webhook target the policy refuses; `reason` says why, without any secret.

    A `ValueError` for callers validating input, and an `OSError` too, because at connection
    time it is raised inside aiohttp's resolver/socket path, which wraps `OSError` (and only
    that) in `ClientConnectorError`; the delivery then fails like any unreachable target.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        # OSError's message slot, which aiohttp's ClientConnectorError prints.
        self.strerror = reason


@dataclass(frozen=True)
class TargetPolicy:
    """`[webhooks] allow_http`, `allow_private_targets`, `allow_loopback_targets` (SPEC §2)."""

    allow_http: bool
    allow_private: bool
    allow_loopback: bool


# (network, reason) tables, checked in order; tuples so nothing here is mutable.
_V4_ALWAYS: tuple[tuple[_V4, str], ...] = (
    (_V4("0.0.0.0/8"), "'this network' address (0.0.0.0/8)"),
    (_V4("169.254.0.0/16"), "link-local / cloud metadata address (169.254.0.0/16)"),
    (_V4("100.100.100.200/32"), "cloud metadata address"),
    (_V4("224.0.0.0/4"), "multicast address"),
    (_V4("240.0.0.0/4"), "reserved or broadcast address (240.0.0.0/4)"),
)
_V4_LOOPBACK = _V4("127.0.0.0/8")
_V4_PRIVATE: tuple[_V4, ...] = (
    _V4("10.0.0.0/8"),
    _V4("172.16.0.0/12"),
    _V4("192.168.0.0/16"),
    _V4("100.64.0.0/10"),
    _V4("198.18.0.0/15"),
    _V4("192.0.0.0/24"),
)

_V6_UNSPECIFIED = ipaddress.IPv6Address("::")
_V6_LOOPBACK = ipaddress.IPv6Address("::1")
_V6_MAPPED = _V6("::ffff:0:0/96")
_V6_NAT64 = _V6("64:ff9b::/96")
_V6_6TO4 = _V6("2002::/16")
_V6_ALWAYS: tuple[tuple[_V6, str], ...] = (
    (_V6("fe80::/10"), "link-local address (fe80::/10)"),
    (_V6("fd00:ec2::254/128"), "cloud metadata address"),
    (_V6("ff00::/8"), "multicast address"),
    (_V6("::/96"), "deprecated IPv4-compatible IPv6 address (::/96)"),
    (_V6("2001::/32"), "Teredo address (2001::/32)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64 address (64:ff9b:1::/48)"),
)
_V6_PRIVATE: tuple[_V6, ...] = (_V6("fc00::/7"), _V6("fec0::/10"))


def _check_v4(ip: ipaddress.IPv4Address, policy: TargetPolicy, shown: str) -> None:
    for network, reason in _V4_ALWAYS:
        if ip in network:
            raise TargetRefused(f"{shown} is a {reason}")
    if ip in _V4_LOOPBACK:
        if not policy.allow_loopback:
            raise TargetRefused(f"{shown} is a loopback address (allow_loopback_targets is off)")
        return
    if any(ip in network for network in _V4_PRIVATE) and not policy.allow_private:
        raise TargetRefused(f"{shown} is a private address (allow_private_targets is off)")


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address really leads to, if it embeds one we can decode."""
    if ip in _V6_MAPPED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-mapped"
    if ip in _V6_NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip in _V6_6TO4:
        # 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
        return ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF), "6to4"
    return None


def check_address(ip: IPAddress, policy: TargetPolicy) -> None:
    """Raise `TargetRefused` unless `policy` allows connecting to `ip` (rules: module doc)."""
    if isinstance(ip, ipaddress.IPv4Address):
        _check_v4(ip, policy, str(ip))
        return
    # A scope id ("fe80::1%eth0") does not change which range the address is in.
    bare = ipaddress.IPv6Address(int(ip))
    shown = str(ip)
    embedded = _embedded_v4(bare)
    if embedded is not None:
        v4, kind = embedded
        _check_v4(v4, policy, f"{shown} ({kind} {v4})")
        return
    if bare == _V6_UNSPECIFIED:
        raise TargetRefused(f"{shown} is the unspecified address")
    if bare == _V6_LOOPBACK:
        if not policy.allow_loopback:
            raise TargetRefused(f"{shown} is a loopback address (allow_loopback_targets is off)")
        return
    for network, reason in _V6_ALWAYS:
        if bare in network:
            raise TargetRefused(f"{shown} is a {reason}")
    if any(bare in network for network in _V6_PRIVATE) and not policy.allow_private:
        raise TargetRefused(f"{shown} is a private address (allow_private_targets is off)")


# A host the URL standard (and getaddrinfo) would read as IPv4: its last label is a decimal or
# 0x-hex number. Only the canonical dotted quad is accepted; `2130706433`, `0x7f.1`, `127.1`
# and `0177.0.0.1` all mean 127.0.0.1 to some parser, so they are refused outright.
_NUMERIC_LABEL = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)", re.IGNORECASE)
_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_LOOPBACK_NAMES = re.compile(r"(?:.+\.)?localhost\.?", re.IGNORECASE)


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host.lower()
    try:
        # IDNA applies NFKC, so full-width digits become ASCII ones before the numeric check
        # (what the HTTP client would connect to).
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise TargetRefused("URL host is not a valid internationalised domain name") from None


def check_url(url: str, policy: TargetPolicy) -> None:
    """Raise `TargetRefused` unless `url` is an acceptable webhook target under `policy`.

    Refused: a scheme other than https (or http with `allow_http`); no host; user info (a
    password in a URL ends up in logs and admin screens); an invalid port; whitespace, control
    characters or backslashes (parsers disagree on them); a non-canonical numeric host; a
    literal IP or a `localhost` name that `check_address` refuses. Host names are not resolved
    here: their addresses are checked when connecting.
    """
    if _FORBIDDEN_URL_CHARS.search(url):
        raise TargetRefused("URL contains whitespace, control characters or a backslash")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if scheme not in allowed:
        needed = "http or https" if policy.allow_http else "https (allow_http is off)"
        raise TargetRefused(f"URL scheme must be {needed}, got {scheme or 'none'!r}")
    if "@" in parts.netloc:
        raise TargetRefused("URL must not contain user info (credentials end up in logs)")
    if port == 0:
        raise TargetRefused("URL port 0 is not a valid target port")
    host = parts.hostname
    if not host:
        raise TargetRefused("URL has no host")

    if ":" in host:
        # urlsplit only yields a colon in the host for a bracketed IPv6 literal.
        if "%" in host:
            raise TargetRefused("URL IPv6 zone identifiers are not allowed")
        try:
            ip6 = ipaddress.IPv6Address(host)
        except ValueError:
            raise TargetRefused(f"URL host {host!r} is not a valid IPv6 address") from None
        check_address(ip6, policy)
        return

    host = _ascii_host(host)
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            ip4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise TargetRefused(
                f"URL host {host!r} is a non-canonical numeric address; write it as a dotted quad"
            ) from None
        check_address(ip4, policy)
        return
    if _LOOPBACK_NAMES.fullmatch(host) and not policy.allow_loopback:
        # RFC 6761: localhost names always resolve to loopback; say so now rather than at the
        # first delivery.
        raise TargetRefused(f"URL host {host!r} is loopback (allow_loopback_targets is off)")
