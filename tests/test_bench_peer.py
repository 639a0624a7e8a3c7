"""The benchmark's same-work peer (bench/peer.py, issue 16) answers exactly as we do.

Our `reliatic serve` and the FastAPI peer run as subprocesses over one small data dir
(`reliatic demo`: 240 assets with computed fields, through the project's services). The
same GET and the same lists must come back byte-identical, `meta.timestamp` excepted: it
is the second each server answered in, so it is checked for its format and then masked in
both bodies before they are compared. The peer's headers must carry the same ETag, Link,
request id and rate limit, and a key revoked by `reliatic key revoke` (another process)
must be refused by the peer on the very next request.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import Server, cli, cli_json, free_port, start_server

# bench/peer.py reads the data dir's SQLite files itself: it is the peer of our SQLite server.
pytestmark = pytest.mark.sqlite_only(reason="the same-work peer reads the bench's SQLite files")

ROOT = Path(__file__).resolve().parents[1]
TIMESTAMP = re.compile(rb'"timestamp":"([^"]*)"')
META_TS = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SAME_HEADERS = ("content-type", "etag", "link", "server", "x-request-id", "x-ratelimit-limit")


def fetch(port: int, path: str, key: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", f"Bearer {key}")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, found, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, found, body = error.code, error.headers, error.read()
    # Header names in lower case: uvicorn sends them so, aiohttp as they were set.
    return status, {k.lower(): v for k, v in found.items()}, body


def masked(body: bytes) -> bytes:
    """`body` with its `meta.timestamp` checked for its format, then blanked."""
    stamps = TIMESTAMP.findall(body)
    assert len(stamps) <= 1, body[:200]
    for stamp in stamps:
        assert META_TS.match(stamp), stamp
    return TIMESTAMP.sub(b'"timestamp":"-"', body)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("peer") / "data"
    out = cli_json(data_dir, "demo")
    return {"data_dir": str(data_dir), "key": out["key"], "key_id": out["key_id"]}


@pytest.fixture(scope="module")
def ours(demo: dict[str, str]) -> Iterator[Server]:
    server = start_server(Path(demo["data_dir"]))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def peer(demo: dict[str, str]) -> Iterator[int]:
    port = free_port()
    log = Path(demo["data_dir"]).parent / "peer.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "peer.py"), demo["data_dir"], str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the peer did not start: " + log.read_text()
                time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def compare(ours: Server, peer: int, path: str, key: str) -> bytes:
    """GET `path` from both with the same request id; bodies and headers must match."""
    status, theirs_h, theirs = fetch(peer, path, key, **{"X-Request-Id": "peer-check-1"})
    our_status, our_h, our_body = fetch(ours.port, path, key, **{"X-Request-Id": "peer-check-1"})
    assert (status, our_status) == (200, 200), (theirs[:300], our_body[:300])
    assert masked(theirs) == masked(our_body)
    for name in SAME_HEADERS:
        assert theirs_h.get(name) == our_h.get(name), name
    for name in ("x-ratelimit-remaining", "x-ratelimit-reset", "date"):
        assert name in theirs_h and name in our_h, name
    return our_body


def test_get_and_lists_are_byte_identical(demo: dict[str, str], ours: Server, peer: int) -> None:
    key = demo["key"]
    first = compare(ours, peer, "/api/v1/assets?per_page=100", key)
    ids = re.findall(rb'"id":"(ast_[0-9A-Z]+)"', first)
    assert len(ids) == 100
    # A spread of assets: computed fields set, and some without inspections (nulls).
    for asset_id in ids[::9]:
        body = compare(ours, peer, f"/api/v1/assets/{asset_id.decode()}", key)
        assert body.startswith(b'{"data":{"id":"' + asset_id)
    for query in (
        "type=vessel&status=active&page=2&per_page=7",
        "type=piping&status=active&page=1&per_page=25",
        "status=inactive&per_page=25",
        "per_page=25&type=tank&page=3",
        "type=rotating&status=active&page=99&per_page=25",  # past the end: empty data
    ):
        compare(ours, peer, f"/api/v1/assets?{query}", key)


def test_a_revoked_key_is_refused_by_the_peer_on_the_next_request(
    demo: dict[str, str], ours: Server, peer: int
) -> None:
    made = cli_json(
        Path(demo["data_dir"]),
        "key",
        "create",
        "--tenant",
        "demo",
        "--name",
        "revoke-me",
        "--level",
        "read_only",
    )
    key, path = made["key"], "/api/v1/assets?per_page=1"
    assert fetch(peer, path, key)[0] == 200  # now cached by the peer
    assert fetch(peer, path, key)[0] == 200
    done = cli(Path(demo["data_dir"]), "key", "revoke", made["id"])
    assert done.returncode == 0, done.stderr
    status, headers, body = fetch(peer, path, key)
    assert status == 401
    assert b'"error":"invalid_api_key"' in body
    assert headers["server"] == "Reliatic" and headers["x-request-id"]
    assert fetch(ours.port, path, key)[0] == 401
    assert fetch(peer, path, demo["key"])[0] == 200  # the other key still works
