"""SPEC §7 target safety: every address range in every policy state, and the URL rules."""

from __future__ import annotations

import ipaddress

import pytest

from reliatic_appliance.domain.target_policy import (
    TargetPolicy,
    TargetRefused,
    check_address,
    check_url,
)

NONE = TargetPolicy(allow_http=False, allow_private=False, allow_loopback=False)
PRIVATE = TargetPolicy(allow_http=False, allow_private=True, allow_loopback=False)
LOOPBACK = TargetPolicy(allow_http=False, allow_private=False, allow_loopback=True)
ALL = TargetPolicy(allow_http=True, allow_private=True, allow_loopback=True)
DEFAULT = TargetPolicy(allow_http=False, allow_private=True, allow_loopback=False)  # SPEC §2

# address -> category; the category decides the outcome under each policy below.
ADDRESSES = {
    # always refused
    "0.0.0.0": "always",
    "0.1.2.3": "always",
    "169.254.169.254": "always",
    "169.254.0.1": "always",
    "100.100.100.200": "always",
    "224.0.0.1": "always",
    "239.255.255.250": "always",
    "240.0.0.1": "always",
    "255.255.255.255": "always",
    "::": "always",
    "fe80::1": "always",
    "fe80::1%eth0": "always",
    "febf:ffff::1": "always",
    "fd00:ec2::254": "always",
    "ff02::1": "always",
    "ff05::2": "always",
    "::7f00:1": "always",  # IPv4-compatible ::127.0.0.1
    "::808:808": "always",  # IPv4-compatible ::8.8.8.8, deprecated whatever it embeds
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "always",  # Teredo
    "64:ff9b:1::a9fe:a9fe": "always",  # local-use NAT64
    "::ffff:169.254.169.254": "always",
    "::ffff:0.0.0.0": "always",
    "64:ff9b::a9fe:a9fe": "always",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1": "always",  # 6to4 of 169.254.169.254
    "::ffff:224.0.0.1": "always",
    # loopback
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback",
    "64:ff9b::7f00:1": "loopback",
    "2002:7f00:1::": "loopback",
    # private / plant LAN
    "10.0.0.1": "private",
    "10.255.255.255": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.10": "private",
    "100.64.0.1": "private",
    "100.127.255.254": "private",
    "198.18.0.1": "private",
    "198.19.255.254": "private",
    "192.0.0.8": "private",
    "fc00::1": "private",
    "fd12:3456:789a::1": "private",
    "fec0::1": "private",
    "::ffff:10.1.2.3": "private",
    "::ffff:192.168.0.1": "private",
    "64:ff9b::a00:1": "private",
    "2002:c0a8:101::1": "private",
    # global
    "8.8.8.8": "global",
    "1.1.1.1": "global",
    "172.15.255.255": "global",  # just below 172.16/12
    "172.32.0.0": "global",  # just above
    "100.63.255.255": "global",  # just below CGNAT
    "100.128.0.0": "global",  # just above
    "169.253.255.255": "global",
    "169.255.0.0": "global",
    "126.255.255.255": "global",
    "128.0.0.0": "global",
    "223.255.255.255": "global",  # last before multicast
    "203.0.113.7": "global",  # documentation: harmless, used as a public stand-in
    "2606:4700:4700::1111": "global",
    "2a00:1450:4001:82a::200e": "global",
    "::ffff:8.8.8.8": "global",
    "64:ff9b::808:808": "global",
    "2002:808:808::1": "global",
}

ALLOWED = {
    "always": set(),
    "loopback": {"LOOPBACK", "ALL"},
    "private": {"PRIVATE", "ALL", "DEFAULT"},
    "global": {"NONE", "PRIVATE", "LOOPBACK", "ALL", "DEFAULT"},
}
POLICIES = {
    "NONE": NONE,
    "PRIVATE": PRIVATE,
    "LOOPBACK": LOOPBACK,
    "ALL": ALL,
    "DEFAULT": DEFAULT,
}


@pytest.mark.parametrize("policy_name", list(POLICIES))
@pytest.mark.parametrize(("address", "category"), list(ADDRESSES.items()))
def test_check_address(address: str, category: str, policy_name: str) -> None:
    ip = ipaddress.ip_address(address)
    if policy_name in ALLOWED[category]:
        check_address(ip, POLICIES[policy_name])
    else:
        with pytest.raises(TargetRefused) as caught:
            check_address(ip, POLICIES[policy_name])
        assert str(ip) in caught.value.reason


def test_reasons_say_which_setting_would_allow_it() -> None:
    with pytest.raises(TargetRefused, match="allow_loopback_targets"):
        check_address(ipaddress.ip_address("127.0.0.1"), NONE)
    with pytest.raises(TargetRefused, match="allow_private_targets"):
        check_address(ipaddress.ip_address("10.0.0.1"), NONE)
    with pytest.raises(TargetRefused, match="metadata"):
        check_address(ipaddress.ip_address("169.254.169.254"), ALL)
    with pytest.raises(TargetRefused, match=r"IPv4-mapped 127\.0\.0\.1"):
        check_address(ipaddress.ip_address("::ffff:127.0.0.1"), NONE)


def test_target_refused_is_both_value_error_and_os_error() -> None:
    exc = TargetRefused("nope")
    assert isinstance(exc, ValueError) and isinstance(exc, OSError)
    assert exc.reason == "nope" and str(exc) == "nope" and exc.strerror == "nope"


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("https://cmms.plant.local/hooks/reliatic", NONE),
        ("https://cmms.plant.local:8443/hooks?x=1", NONE),
        ("HTTPS://CMMS.example.com/", NONE),
        ("https://203.0.113.7/hook", NONE),
        ("https://[2606:4700:4700::1111]:443/hook", NONE),
        ("https://10.0.0.5/hook", DEFAULT),
        ("https://[fd00::5]/hook", DEFAULT),
        ("http://cmms.plant.local/hook", ALL),
        ("http://127.0.0.1:8080/hook", ALL),
        ("http://[::1]:8080/hook", ALL),
        ("http://localhost:8080/hook", ALL),
        ("https://1.2.3.4.nip.example/hook", NONE),  # a name, checked when resolved
        ("https://bücher.example/hook", NONE),
    ],
)
def test_accepted_urls(url: str, policy: TargetPolicy) -> None:
    check_url(url, policy)


@pytest.mark.parametrize(
    ("url", "policy", "reason"),
    [
        pytest.param("http://cmms.plant.local/hook", DEFAULT, "https", id="http-off"),
        pytest.param("ftp://cmms.plant.local/hook", ALL, "scheme", id="ftp"),
        pytest.param("file:///etc/passwd", ALL, "scheme", id="file"),
        pytest.param("cmms.plant.local/hook", ALL, "scheme", id="no-scheme"),
        pytest.param("https:///hook", ALL, "no host", id="no-host"),
        pytest.param("https://", ALL, "no host", id="empty-host"),
        pytest.param("https://user:pw@cmms.local/", ALL, "user info", id="userinfo"),
        pytest.param("https://user@cmms.local/", ALL, "user info", id="user-only"),
        pytest.param("https://@cmms.local/", ALL, "user info", id="empty-userinfo"),
        pytest.param("https://cmms.local:99999/", ALL, "malformed", id="port-range"),
        pytest.param("https://cmms.local:abc/", ALL, "malformed", id="port-text"),
        pytest.param("https://cmms.local:0/", ALL, "port 0", id="port-zero"),
        pytest.param("https://cmms.local/a b", ALL, "whitespace", id="space"),
        pytest.param("https://cmms.local\n/x", ALL, "control", id="newline"),
        pytest.param("https://cmms.local\\@evil/", ALL, "backslash", id="backslash"),
        pytest.param("https://169.254.169.254/latest", ALL, "metadata", id="metadata"),
        pytest.param("https://0.0.0.0/", ALL, "this network", id="zero"),
        pytest.param("https://224.0.0.1/", ALL, "multicast", id="multicast"),
        pytest.param("https://127.0.0.1/", DEFAULT, "loopback", id="loopback"),
        pytest.param("https://[::1]/", DEFAULT, "loopback", id="v6-loopback"),
        pytest.param("https://[::ffff:127.0.0.1]/", DEFAULT, "loopback", id="mapped"),
        pytest.param("https://[::ffff:7f00:1]/", DEFAULT, "loopback", id="mapped-hex"),
        pytest.param("https://[fe80::1]/", ALL, "link-local", id="v6-link-local"),
        pytest.param("https://[fe80::1%25eth0]/", ALL, "zone", id="zone-id"),
        pytest.param("https://[not:an:ip]/", ALL, "IPv6", id="bad-v6"),
        pytest.param("https://10.0.0.5/", NONE, "private", id="private-off"),
        pytest.param("https://localhost/", DEFAULT, "loopback", id="localhost"),
        pytest.param("https://LOCALHOST./", DEFAULT, "loopback", id="localhost-dot"),
        pytest.param("https://api.localhost/", DEFAULT, "loopback", id="sub-localhost"),
        pytest.param("https://2130706433/", ALL, "non-canonical", id="decimal"),
        pytest.param("https://0x7f000001/", ALL, "non-canonical", id="hex"),
        pytest.param("https://0x7f.1/", ALL, "non-canonical", id="hex-short"),
        pytest.param("https://127.1/", ALL, "non-canonical", id="short"),
        pytest.param("https://0177.0.0.1/", ALL, "non-canonical", id="octal"),
        pytest.param("https://127.0.0.1./", ALL, "non-canonical", id="trailing-dot"),
        pytest.param("https://8.8.8.8.8/", ALL, "non-canonical", id="five-parts"),
        pytest.param("https://example.123/", ALL, "non-canonical", id="numeric-tld"),
        pytest.param(
            "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", DEFAULT, "loopback", id="fullwidth"
        ),
        pytest.param("https://" + "ü" * 70 + ".example/", ALL, "internationalised", id="bad-idna"),
    ],
)
def test_refused_urls(url: str, policy: TargetPolicy, reason: str) -> None:
    with pytest.raises(TargetRefused, match=reason):
        check_url(url, policy)


def test_refusal_never_repeats_a_password() -> None:
    with pytest.raises(TargetRefused) as caught:
        check_url("https://admin:s3cr3t@cmms.local/", ALL)
    assert "s3cr3t" not in str(caught.value)
