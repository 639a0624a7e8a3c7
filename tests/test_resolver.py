"""SPEC §7 target safety at connection time: the guarded resolver and connector, against a real
aiohttp server on 127.0.0.1, with a fake DNS under the guard to simulate rebinding."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from reliatic_appliance.domain.target_policy import TargetPolicy, TargetRefused
from reliatic_appliance.scheduler.resolver import GuardedResolver, make_connector, refused_reason

ServerFactory = Callable[..., Awaitable[TestServer]]
HITS = web.AppKey("hits", list[str])

NONE = TargetPolicy(allow_http=True, allow_private=False, allow_loopback=False)
DEFAULT = TargetPolicy(allow_http=True, allow_private=True, allow_loopback=False)
LOOPBACK = TargetPolicy(allow_http=True, allow_private=True, allow_loopback=True)


class ScriptedResolver(AbstractResolver):
    """Fake DNS: each lookup returns the next scripted answer (the last one repeats)."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
async def server(aiohttp_server: ServerFactory) -> TestServer:
    async def hook(request: web.Request) -> web.Response:
        request.app[HITS].append(request.host)
        response = web.Response(text="ok")
        # No keep-alive, so every request opens (and checks) a new connection.
        response.force_close()
        return response

    app = web.Application()
    app[HITS] = []
    app.router.add_post("/hook", hook)
    return await aiohttp_server(app, host="127.0.0.1")


async def _post(connector: aiohttp.BaseConnector, url: str) -> int:
    async with (
        aiohttp.ClientSession(connector=connector, connector_owner=False) as session,
        session.post(url, data=b"{}", allow_redirects=False) as response,
    ):
        return response.status


async def _refusal(connector: aiohttp.BaseConnector, url: str) -> str:
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await _post(connector, url)
    reason = refused_reason(caught.value)
    assert reason is not None, caught.value
    return reason


async def test_literal_loopback_refused_without_allow_loopback(server: TestServer) -> None:
    connector = make_connector(DEFAULT, limit=4, ssl_context=None)
    try:
        reason = await _refusal(connector, f"http://127.0.0.1:{server.port}/hook")
    finally:
        await connector.close()
    assert "127.0.0.1" in reason and "loopback" in reason
    assert server.app[HITS] == []  # refused before connecting


async def test_literal_loopback_allowed_with_allow_loopback(server: TestServer) -> None:
    connector = make_connector(LOOPBACK, limit=4, ssl_context=None)
    try:
        assert await _post(connector, f"http://127.0.0.1:{server.port}/hook") == 200
    finally:
        await connector.close()


async def test_mapped_ipv6_literal_is_checked_by_the_ipv4_rules(server: TestServer) -> None:
    connector = make_connector(DEFAULT, limit=4, ssl_context=None)
    try:
        reason = await _refusal(connector, f"http://[::ffff:127.0.0.1]:{server.port}/hook")
    finally:
        await connector.close()
    assert "loopback" in reason


async def test_localhost_is_resolved_and_checked(server: TestServer) -> None:
    connector = make_connector(DEFAULT, limit=4, ssl_context=None)
    try:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
            await _post(connector, f"http://localhost:{server.port}/hook")
    finally:
        await connector.close()
    assert isinstance(caught.value.os_error, TargetRefused)
    reason = refused_reason(caught.value)
    assert reason is not None and "'localhost' resolves to" in reason and "loopback" in reason


async def test_localhost_allowed_with_allow_loopback(server: TestServer) -> None:
    connector = make_connector(LOOPBACK, limit=4, ssl_context=None)
    try:
        assert await _post(connector, f"http://localhost:{server.port}/hook") == 200
    finally:
        await connector.close()


async def test_name_resolving_to_metadata_is_refused_under_any_policy(server: TestServer) -> None:
    fake = ScriptedResolver(["169.254.169.254"])
    everything = TargetPolicy(allow_http=True, allow_private=True, allow_loopback=True)
    connector = make_connector(everything, limit=4, ssl_context=None, inner_resolver=fake)
    try:
        reason = await _refusal(connector, f"http://metadata.plant.test:{server.port}/hook")
    finally:
        await connector.close()
    assert "169.254.169.254" in reason and "metadata" in reason


async def test_rebinding_second_connection_is_refused(server: TestServer) -> None:
    # First answer allowed (loopback, where our test server is), then the name "rebinds":
    # to a mix of allowed and metadata addresses, then to metadata only.
    fake = ScriptedResolver(["127.0.0.1"], ["127.0.0.1", "169.254.169.254"], ["169.254.169.254"])
    connector = make_connector(LOOPBACK, limit=4, ssl_context=None, inner_resolver=fake)
    url = f"http://rebind.plant.test:{server.port}/hook"
    try:
        assert await _post(connector, url) == 200
        mixed = await _refusal(connector, url)
        only_metadata = await _refusal(connector, url)
    finally:
        await connector.close()
    assert "169.254.169.254" in mixed, "one bad address must refuse the whole answer"
    assert len(server.app[HITS]) == 1  # only the first, allowed, connection got through
    assert "169.254.169.254" in only_metadata
    # No connector DNS cache: every connection asked (and was checked) afresh.
    assert fake.lookups == ["rebind.plant.test"] * 3


async def test_guard_refuses_a_mixed_answer_instead_of_dropping_the_bad_half() -> None:
    guard = GuardedResolver(NONE, ScriptedResolver(["8.8.8.8", "10.0.0.7", "1.1.1.1"]))
    with pytest.raises(TargetRefused, match=r"'cmms\.test' resolves to 10\.0\.0\.7"):
        await guard.resolve("cmms.test", 443, socket.AF_UNSPEC)


async def test_guard_public_then_private_answer() -> None:
    guard = GuardedResolver(NONE, ScriptedResolver(["93.184.216.34"], ["192.168.4.2"]))
    first = await guard.resolve("cmms.test", 443)
    assert [answer["host"] for answer in first] == ["93.184.216.34"]
    with pytest.raises(TargetRefused, match="private"):
        await guard.resolve("cmms.test", 443)


async def test_guard_allows_private_lan_by_default_and_ipv6() -> None:
    guard = GuardedResolver(DEFAULT, ScriptedResolver(["10.0.0.7", "fd00::7", "2001:db8::1"]))
    assert len(await guard.resolve("cmms.test", 443)) == 3


async def test_guard_fails_closed_on_unparseable_answer() -> None:
    guard = GuardedResolver(LOOPBACK, ScriptedResolver(["not-an-ip"]))
    with pytest.raises(TargetRefused, match="not an IP address"):
        await guard.resolve("cmms.test", 443)


async def test_guard_checks_literal_ip_hosts_given_to_resolve() -> None:
    guard = GuardedResolver(DEFAULT)
    try:
        with pytest.raises(TargetRefused, match="loopback"):
            await guard.resolve("127.0.0.1", 80, socket.AF_INET)
        with pytest.raises(TargetRefused, match="metadata"):
            await guard.resolve("169.254.169.254", 80, socket.AF_INET)
    finally:
        await guard.close()


async def test_guard_close_closes_the_inner_resolver() -> None:
    fake = ScriptedResolver(["8.8.8.8"])
    await GuardedResolver(NONE, fake).close()
    assert fake.closed


def test_refused_reason_is_none_for_other_errors() -> None:
    assert refused_reason(ConnectionRefusedError(111, "refused")) is None
    assert refused_reason(ValueError("x")) is None


def test_refused_reason_follows_causes_and_groups() -> None:
    try:
        try:
            raise TargetRefused("deep reason")
        except TargetRefused as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as outer:
        assert refused_reason(outer) == "deep reason"
        assert refused_reason(ExceptionGroup("g", [ValueError("a"), outer])) == "deep reason"
