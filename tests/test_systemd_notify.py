"""sd_notify against real AF_UNIX datagram sockets (a path in a temp dir and an abstract one)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliatic_appliance import systemd_notify


def _receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    address = str(tmp_path / "notify.sock")
    with _receiver(address) as sock:
        yield sock, {"NOTIFY_SOCKET": address}


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, dict[str, str]]]:
    name = f"reliatic-test-{uuid.uuid4().hex}"
    with _receiver("\0" + name) as sock:
        yield sock, {"NOTIFY_SOCKET": "@" + name}


def test_without_notify_socket_is_a_noop() -> None:
    assert systemd_notify.notify("READY=1", {}) is False
    assert systemd_notify.ready({}) is False
    assert systemd_notify.watchdog({"NOTIFY_SOCKET": ""}) is False


def test_ready_reaches_a_path_socket(path_socket: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = path_socket
    assert systemd_notify.ready(env) is True
    assert sock.recv(4096) == b"READY=1"


def test_abstract_namespace_socket(abstract_socket: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = abstract_socket
    assert systemd_notify.watchdog(env) is True
    assert sock.recv(4096) == b"WATCHDOG=1"


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (lambda env: systemd_notify.stopping(env), b"STOPPING=1"),
        (lambda env: systemd_notify.watchdog(env), b"WATCHDOG=1"),
        (lambda env: systemd_notify.status("serving 3 tenants", env), b"STATUS=serving 3 tenants"),
        (lambda env: systemd_notify.status("two\nlines", env), b"STATUS=two lines"),
        (lambda env: systemd_notify.notify("READY=1\nSTATUS=ok", env), b"READY=1\nSTATUS=ok"),
    ],
)
def test_each_helper_sends_one_datagram(
    path_socket: tuple[socket.socket, dict[str, str]], send, expected: bytes
) -> None:
    sock, env = path_socket
    assert send(env) is True
    assert sock.recv(4096) == expected


def test_default_env_is_os_environ(
    path_socket: tuple[socket.socket, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, env = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", env["NOTIFY_SOCKET"])
    assert systemd_notify.status("from os.environ") is True
    assert sock.recv(4096) == b"STATUS=from os.environ"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert systemd_notify.ready() is False


def test_unreachable_socket_returns_false(tmp_path: Path) -> None:
    assert systemd_notify.ready({"NOTIFY_SOCKET": str(tmp_path / "missing.sock")}) is False
    # a vsock address (systemd >= 254) is not spoken here: no-op, not an error
    assert systemd_notify.ready({"NOTIFY_SOCKET": "vsock:2:1234"}) is False


def test_socket_that_is_not_a_datagram_socket_returns_false(tmp_path: Path) -> None:
    address = str(tmp_path / "stream.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
        stream.bind(address)
        stream.listen()
        assert systemd_notify.ready({"NOTIFY_SOCKET": address}) is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "not-a-pid"}, None),
        ({"WATCHDOG_USEC": "500"}, 0.00025),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": ""}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert systemd_notify.watchdog_interval_seconds(env) == expected


def test_watchdog_interval_default_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd_notify.watchdog_interval_seconds() == 1.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert systemd_notify.watchdog_interval_seconds() is None
