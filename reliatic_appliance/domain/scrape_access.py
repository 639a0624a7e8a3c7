"""Who may read /metrics without a key (SPEC §3): a loopback client, or one whose address is
in `[metrics] allow`. Everyone else needs a key with `metrics:read`.

`peer` is the TCP peer of the socket, never a header: behind a reverse proxy every request
would otherwise look like the proxy's, and X-Forwarded-For is whatever the client wrote.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_may_scrape(peer: str | None, allow: Sequence[Network]) -> bool:
    """True for a loopback peer or one inside a network of `allow`; False for anything
    that is not an IP address (a Unix socket, an unknown peer)."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.5 on a dual-stack socket is 10.0.0.5
    if address.is_loopback:
        return True
    return any(address in network for network in allow)
