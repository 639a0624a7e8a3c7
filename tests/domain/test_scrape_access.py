"""Who may scrape /metrics without a key (SPEC §3), case by case."""

from __future__ import annotations

import ipaddress

import pytest

from reliatic_appliance.domain.scrape_access import Network, peer_may_scrape

ALLOW = [ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("fd00:1::/64")]
ONE = [ipaddress.ip_network("192.0.2.7")]


@pytest.mark.parametrize(
    ("peer", "allow", "expected"),
    [
        pytest.param("127.0.0.1", [], True, id="loopback-v4"),
        pytest.param("127.8.9.10", [], True, id="loopback-v4-whole-net"),
        pytest.param("::1", [], True, id="loopback-v6"),
        pytest.param("::ffff:127.0.0.1", [], True, id="loopback-v4-mapped"),
        pytest.param("10.20.3.4", ALLOW, True, id="in-allowed-network"),
        pytest.param("::ffff:10.20.3.4", ALLOW, True, id="mapped-in-allowed-network"),
        pytest.param("fd00:1::5", ALLOW, True, id="in-allowed-v6-network"),
        pytest.param("fe80::1%eth0", [ipaddress.ip_network("fe80::/64")], True, id="zone-id"),
        pytest.param("192.0.2.7", ONE, True, id="allowed-single-address"),
        pytest.param("192.0.2.8", ONE, False, id="next-to-allowed-address"),
        pytest.param("10.21.0.1", ALLOW, False, id="outside-allowed-network"),
        pytest.param("10.20.3.4", [], False, id="lan-without-allow"),
        pytest.param("fd00:2::5", ALLOW, False, id="outside-allowed-v6"),
        pytest.param("0.0.0.0", [], False, id="unspecified"),
        pytest.param("", ALLOW, False, id="empty-peer"),
        pytest.param(None, ALLOW, False, id="no-peer"),
        pytest.param("/run/reliatic.sock", ALLOW, False, id="unix-socket"),
        pytest.param("localhost", [], False, id="a-name-is-not-an-address"),
    ],
)
def test_peer_may_scrape(peer: str | None, allow: list[Network], expected: bool) -> None:
    assert peer_may_scrape(peer, allow) is expected
