"""What every response of the real `reliatic serve` carries (SPEC §3, issue 11), even the
answer to a request aiohttp's HTTP parser refused: the error shape, an X-Request-Id, the
product's `Server` header without versions, and never an echo of the request.

Raw sockets, since a client library would refuse to send most of these requests. Each case
runs against aiohttp's C parser (the default) and its pure-Python one, which quote what they
refuse differently (api/middlewares.py `_from_parser_error`)."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.process import Server, cli, start_server

# Shaped like an API key: a client that put it in an over-long header must not get it back.
SECRET = b"rl_live_" + b"Zq8vN2xW" * 5
ENV = {
    "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000",
    "RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "100000",
}
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@pytest.fixture(
    scope="module",
    params=[
        pytest.param({}, id="c-parser"),
        pytest.param({"AIOHTTP_NO_EXTENSIONS": "1"}, id="python-parser"),
    ],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("protocol") / "data"
    assert cli(data_dir, "init").returncode == 0
    running = start_server(data_dir, {**ENV, **request.param})
    yield running
    running.stop()


@dataclass
class Answer:
    raw: bytes
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(server: Server, request: bytes) -> Answer:
    """Send `request` as it is; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(raw, int(status_line.split()[1]), headers, body)


def get(path: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + path + b" HTTP/1.1", b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


REFUSED = [
    pytest.param(
        get(b"/api/v1/assets", b"X-Api-Key: " + SECRET + b"k" * 9000),
        431,
        "header_fields_too_large",
        id="header-value-9000-bytes",
    ),
    pytest.param(
        get(b"/api/v1/assets", b"Authorization: Bearer " + SECRET + b"k" * 9000),
        431,
        "header_fields_too_large",
        id="authorization-9000-bytes",
    ),
    pytest.param(
        get(b"/api/v1/assets", b"X-" + SECRET + b"n" * 9000 + b": v"),
        431,
        "header_fields_too_large",
        id="header-name-9000-bytes",
    ),
    pytest.param(
        get(b"/api/v1/assets?search=" + SECRET + b"a" * 9000),
        414,
        "uri_too_long",
        id="url-9000-bytes",
    ),
    pytest.param(
        get(b"/" + SECRET + b"a" * 9000),
        414,
        "uri_too_long",
        id="path-9000-bytes",
    ),
    pytest.param(
        get(b"/healthz", *(b"X-Many-%d: %s" % (i, SECRET) for i in range(200))),
        431,
        "header_fields_too_large",
        id="200-headers",
    ),
    pytest.param(
        get(b"/healthz", b"not a header " + SECRET),
        400,
        "validation_error",
        id="malformed-header",
    ),
]


@pytest.mark.parametrize(("request_bytes", "status", "code"), REFUSED)
def test_parser_refusals_answer_in_the_error_shape_without_echo(
    server: Server, request_bytes: bytes, status: int, code: str
) -> None:
    answer = exchange(server, request_bytes)
    assert answer.status == status, answer.raw[:300]
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code and body["details"] == []
    assert SANE_ID.match(answer.headers["x-request-id"])
    assert answer.headers["server"] == "Reliatic"
    assert "x-ratelimit-remaining" in answer.headers
    assert SECRET not in answer.raw
    assert SECRET[:20] not in answer.raw


def test_parser_refusals_are_logged_without_the_request(server: Server) -> None:
    answer = exchange(server, get(b"/healthz", b"X-Api-Key: " + SECRET + b"k" * 9000))
    request_id = answer.headers["x-request-id"]
    deadline = time.monotonic() + 10
    while not (lines := [x for x in server.log_lines() if x.get("request_id") == request_id]):
        assert time.monotonic() < deadline, "no access line"
        time.sleep(0.05)
    assert lines[0]["status"] == 431 and lines[0]["logger"] == "reliatic.access"
    assert SECRET.decode() not in server.log_text()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param(b"/healthz", 200, id="health"),
        pytest.param(b"/api/v1/openapi.json", 200, id="openapi"),
        pytest.param(b"/api/static/swagger-ui/swagger-ui-bundle.js", 200, id="static-file"),
        pytest.param(b"/api/v1/assets", 401, id="no-key"),
        pytest.param(b"/no-such-page", 404, id="not-found"),
    ],
)
def test_server_header_names_the_product_without_versions(
    server: Server, path: bytes, status: int
) -> None:
    answer = exchange(server, get(path, b"Connection: close"))
    assert answer.status == status
    assert answer.headers["server"] == "Reliatic"
    head = answer.raw.partition(b"\r\n\r\n")[0].lower()
    assert b"aiohttp" not in head and b"python" not in head
