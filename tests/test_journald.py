"""Log lines carry the sd-daemon level prefix (`<6>` info, `<4>` warning...) exactly when
stdout is journald's stream (JOURNAL_STREAM set), so the journal records each line's level
(SPEC §8, sd-daemon(3)). The real `reliatic serve`, as systemd would start it."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.process import start_server

PREFIX = re.compile(r"^<([0-7])>(\{.*)$")


def run_and_read(data_dir: Path, journal_stream: str) -> list[str]:
    server = start_server(data_dir, env={"JOURNAL_STREAM": journal_stream})
    try:
        assert server.request("GET", "/healthz")[0] == 200
        assert server.request("GET", "/api/v1/assets")[0] == 401
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")  # malformed: a warning
            sock.recv(4096)
    finally:
        assert server.stop() == 0
    return [line for line in server.log_path.read_text(encoding="utf-8").split("\n") if line]


@pytest.mark.parametrize("stream", ["8:123456", "9:42"])
def test_prefix_under_journald(data_dir: Path, stream: str) -> None:
    lines = run_and_read(data_dir, stream)
    levels = {}
    for line in lines:
        match = PREFIX.match(line)
        assert match, line
        entry = json.loads(match[2])
        levels[entry["level"]] = int(match[1])
    assert levels["info"] == 6 and levels["warning"] == 4
    assert set(levels) <= {"debug", "info", "warning", "error", "critical"}
    expected = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
    assert all(expected[name] == number for name, number in levels.items())
    # The access line of each request too (it bypasses logging's machinery: access_log.py).
    assert any('"path":"/api/v1/assets"' in line and line.startswith("<6>") for line in lines)


def test_no_prefix_without_journald(data_dir: Path) -> None:
    # Empty is how a test unsets a variable the environment may already have.
    lines = run_and_read(data_dir, "")
    assert lines
    for line in lines:
        assert line.startswith("{"), line
        json.loads(line)
