"""sd_notify(3) for the systemd unit (``Type=notify``, ``WatchdogSec=``), hand-written.

systemd passes the path of a datagram socket in ``$NOTIFY_SOCKET``; the service sends it
newline-separated ``KEY=VALUE`` assignments:

- ``READY=1`` (:func:`ready`) once the server listens and its databases are open: until then
  ``systemctl start`` waits, and dependent units do not start;
- ``WATCHDOG=1`` (:func:`watchdog`) at least every :func:`watchdog_interval_seconds` (half of
  ``WatchdogSec=``), sent from the event loop's own work (the scheduler tick) so that a hung loop
  stops the pings and systemd restarts the service;
- ``STOPPING=1`` (:func:`stopping`) when SIGTERM starts the drain;
- ``STATUS=...`` (:func:`status`) one line shown by ``systemctl status``.

Without ``$NOTIFY_SOCKET`` (run by hand, in tests, under another supervisor) every call is a
no-op returning False. A leading ``@`` names a socket in the abstract namespace (``\\0``). Errors
while sending return False instead of raising: a lost notification must not stop the server.
The unit sets ``NotifyAccess=main``, so only the main process (any of its threads) may send.
No library is used: ``sdnotify`` is unmaintained and ``systemd-python`` has no wheels.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` to ``$NOTIFY_SOCKET`` (from ``env``, default ``os.environ``)."""
    address = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False  # unset, or a transport we do not speak (e.g. vsock:)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError:
        return False
    return True


def ready(env: Mapping[str, str] | None = None) -> bool:
    return notify("READY=1", env)


def stopping(env: Mapping[str, str] | None = None) -> bool:
    return notify("STOPPING=1", env)


def watchdog(env: Mapping[str, str] | None = None) -> bool:
    return notify("WATCHDOG=1", env)


def status(text: str, env: Mapping[str, str] | None = None) -> bool:
    """Set the one-line status text; newlines would start a new assignment, so they go."""
    return notify("STATUS=" + " ".join(text.splitlines()), env)


def watchdog_interval_seconds(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``), or None if no
    watchdog is armed for this process (unset, invalid, or ``$WATCHDOG_PID`` is another pid)."""
    environ = os.environ if env is None else env
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
        pid = environ.get("WATCHDOG_PID")
        if pid is not None and int(pid) != os.getpid():
            return None
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None
