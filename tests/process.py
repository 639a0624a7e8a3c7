"""Running the real `reliatic` command as a subprocess, as an operator would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.pg_cluster import backend_env

CLI = [sys.executable, "-m", "reliatic_appliance"]


def cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **backend_env(data_dir), **(env or {})},
        input=input,
        check=False,
    )


def cli_json(data_dir: Path, *args: str) -> Any:
    result = cli(data_dir, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    data_dir: Path
    port: int
    process: subprocess.Popen[str]
    log_path: Path
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw = response.read()
                status, hdrs = response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw = error.read()
            status, hdrs = error.code, dict(error.headers)
        return status, hdrs, json.loads(raw) if raw else None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def log_lines(self) -> list[dict[str, Any]]:
        text = self.log_path.read_text(encoding="utf-8")
        # "\n" only: splitlines() also splits at U+2028/U+0085 inside JSON strings.
        return [json.loads(line) for line in text.split("\n") if line.strip()]

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8") + self.log_path.with_suffix(
            ".err"
        ).read_text(encoding="utf-8")


def start_server(data_dir: Path, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    out = log_path.open("w")
    err = log_path.with_suffix(".err").open("w")
    process = subprocess.Popen(
        [*CLI, "--data-dir", str(data_dir), "serve", "--port", str(port)],
        stdout=out,
        stderr=err,
        text=True,
        env={**os.environ, **backend_env(data_dir), **(env or {})},
    )
    server = Server(data_dir=data_dir, port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {server.log_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError("server did not start")


@contextmanager
def tenant_server(data_dir: Path, env: dict[str, str], slug: str = "acme") -> Iterator[Server]:
    """A fresh data dir with one tenant, and `reliatic serve` on it for the block."""
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", slug).returncode == 0
    running = start_server(data_dir, env)
    try:
        yield running
    finally:
        running.stop()
