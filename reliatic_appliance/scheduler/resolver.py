"""Connection-time SSRF guard for webhook delivery (SPEC §7, target safety).

SPEC §7: every address a webhook target resolves to is checked *when it is connected to*, so
DNS rebinding cannot get around the check, and URLs with a literal IP are checked too.
Checking a URL's host once when the subscription is saved is not enough: the name can later
resolve (or be made to resolve, with a short TTL) to 169.254.169.254 or to the appliance itself.

Two hooks of aiohttp's `TCPConnector` do this, and `make_connector` installs both:

* `GuardedResolver` — every answer of a name lookup is checked with `check_address`; if ANY
  address is refused the whole lookup fails with `TargetRefused`. Refused addresses are not
  silently dropped: a name answering both public and private addresses is misconfigured or
  hostile (a rebinding attack mixes them), and quietly connecting to the "good" half would hide
  that; failing the lookup makes it visible in the delivery log.
* a socket factory — aiohttp never asks the resolver about a literal-IP host (it connects to
  it directly), so the address is checked again right before `connect()`. This also backs up
  the resolver for any path that skips it.

`TargetRefused` is an `OSError`, so aiohttp wraps it in `ClientConnectorError`
(`ClientConnectorDNSError` from the resolver); `refused_reason` digs it back out, so the
delivery log can say "refused: 169.254.169.254 is a link-local / cloud metadata address" rather
than "cannot connect".
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from reliatic_appliance.domain.target_policy import TargetPolicy, TargetRefused, check_address

if TYPE_CHECKING:
    from aiohappyeyeballs import AddrInfoType


def _check_host(address: str, policy: TargetPolicy) -> None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        # Fail closed: something we cannot parse is something we cannot vouch for.
        raise TargetRefused(f"{address!r} is not an IP address") from None
    check_address(ip, policy)


class GuardedResolver(AbstractResolver):
    """Resolve with `inner`, then vet every address it returned.

    The connector's own DNS cache, if enabled, only ever holds answers that passed this check
    (a refusal raises and is not cached), so caching would be safe; `make_connector` turns it
    off anyway, see there.
    """

    def __init__(self, policy: TargetPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        # ThreadedResolver rather than aiohttp's DefaultResolver (aiodns when installed): it is
        # the system's getaddrinfo, so /etc/hosts and nsswitch apply — where a plant names its
        # CMMS — and it holds no resources, which matters because aiohttp's connector never
        # closes a resolver it did not create itself.
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            try:
                _check_host(answer["host"], self._policy)
            except TargetRefused as exc:
                # All or nothing: one refused address refuses the name (see module doc).
                raise TargetRefused(f"host {host!r} resolves to {exc.reason}") from None
        return answers

    async def close(self) -> None:
        await self._inner.close()


def _guarded_socket_factory(policy: TargetPolicy) -> Callable[[AddrInfoType], socket.socket]:
    """A socket factory that checks the address it is about to connect to."""

    def factory(addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        _check_host(str(sockaddr[0]), policy)
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


def make_connector(
    policy: TargetPolicy,
    *,
    limit: int,
    ssl_context: ssl.SSLContext | None,
    inner_resolver: AbstractResolver | None = None,
) -> aiohttp.TCPConnector:
    """The connector every webhook delivery must use (call inside the running event loop).

    * resolver and socket factory guarded as the module doc says;
    * `use_dns_cache=False`: each new connection resolves, and so is checked, afresh. A cached
      answer would be safe (it passed the check), but it would also outlive the record's own
      TTL by the connector's, and "checked on each connect" is simpler to reason about; the OS
      resolver caches anyway and webhook traffic is light. Pooled keep-alive connections stay
      allowed: they lead to an address that was checked when they were opened;
    * `ssl_context` — e.g. built from `[webhooks] ca_bundle`; None means aiohttp's default,
      verifying context. Certificate verification is never turned off here;
    * `inner_resolver` — what the guard wraps; tests pass a fake one to simulate rebinding.

    The session using it must keep `trust_env=False` (the default) and pass no `proxy`: through
    a proxy only the proxy's address is resolved here, and the target would go unchecked. It
    must also send with `allow_redirects=False` (SPEC §7: redirects are not followed).
    """
    return aiohttp.TCPConnector(
        resolver=GuardedResolver(policy, inner_resolver),
        socket_factory=_guarded_socket_factory(policy),
        use_dns_cache=False,
        limit=limit,
        ssl=ssl_context if ssl_context is not None else True,
    )


def refused_reason(exc: BaseException) -> str | None:
    """The `TargetRefused` reason behind `exc` (however aiohttp wrapped it), or None."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TargetRefused):
            return current.reason
        if isinstance(current, aiohttp.ClientConnectorError):
            pending.append(current.os_error)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return None
