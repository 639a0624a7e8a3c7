"""Starting and stopping the servers under test, each pinned to the server core."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from load import SERVER_CORE, pinned

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(
    port: int, path: str, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {path} within {timeout:.0f} s; see {log}")


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def running(
    command: list[str],
    *,
    log: Path,
    ready_path: str,
    port: int,
    env: dict[str, str],
    start_timeout: float = 120,
    pin: bool = True,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` on the server core (or, `pin=False`, anywhere) until the block ends
    (SIGTERM, then SIGKILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            pinned(command, SERVER_CORE) if pin else command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_ready(port, ready_path, process, log, start_timeout)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=start_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def production_env(tmp: Path) -> dict[str, str]:
    """The environment minus any RELIATIC_* override, and an empty config file: defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIATIC_")}
    config = tmp / "reliatic.toml"
    config.write_text("# production defaults: synchronous=FULL, default limits\n")
    env["RELIATIC_CONFIG"] = str(config)
    env["PYTHONPATH"] = str(ROOT)
    return env


def reliatic(data_dir: Path, port: int, *, naive: bool = False) -> list[str]:
    """`reliatic serve`, or the same server with group commit off (`naive_server.py`)."""
    entry = [str(BENCH / "naive_server.py")] if naive else ["-m", "reliatic_appliance"]
    return [sys.executable, *entry, "--data-dir", str(data_dir), "serve", "--port", str(port)]


def baseline(kind: str, port: int) -> list[str]:
    return [sys.executable, str(BENCH / "baselines.py"), kind, str(port)]


def peer(data_dir: Path, port: int) -> list[str]:
    """The same-work FastAPI peer (`peer.py`, issue 16) over the same data dir."""
    return [sys.executable, str(BENCH / "peer.py"), str(data_dir), str(port)]
