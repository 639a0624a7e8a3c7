"""What every command needs: the data dir, settings, output mode, and open databases."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliatic_appliance.ports import ControlDb, TenantDirectory
from reliatic_appliance.services.audit import Who
from reliatic_appliance.settings import (
    LOCAL_DATA_DIR,
    SYSTEM_DATA_DIR,
    SYSTEM_USER,
    Origin,
    Settings,
)
from reliatic_appliance.storage.backends import (
    POSTGRESQL_FILE_COMMAND,
    OpenStorage,
    StorageUnusable,
    is_postgresql,
    open_storage,
)
from reliatic_appliance.storage.layout import master_key_file
from reliatic_appliance.storage.tenancy import control_file


class CliError(Exception):
    """A user mistake: printed as one line on stderr, exit status 1."""


@dataclass(frozen=True)
class CliContext:
    settings: Settings
    json_output: bool
    # Where each value came from, by dotted name, and the config file read (config show).
    origins: Mapping[str, Origin] = field(default_factory=dict)
    config_file: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def require_initialised(self) -> None:
        # On PostgreSQL the data dir still holds secret/ (the master key seals webhook
        # secrets); control.db there is not used.
        marker = (
            master_key_file(self.data_dir)
            if is_postgresql(self.settings)
            else control_file(self.data_dir)
        )
        if not marker.exists():
            hint = init_hint(self.data_dir, euid=os.geteuid())
            raise CliError(f"{self.data_dir} is not initialised; {hint}")

    def require_sqlite(self, command: str) -> None:
        """Refuse a command that works on the data dir's SQLite files (backup, restore,
        check) when the data lives in PostgreSQL."""
        if is_postgresql(self.settings):
            raise CliError(POSTGRESQL_FILE_COMMAND.format(command=command))

    @asynccontextmanager
    async def _storage(self) -> AsyncIterator[OpenStorage]:
        postgresql = is_postgresql(self.settings)
        try:
            # PostgreSQL: off the loop, it connects and migrates. SQLite: on it, where its
            # read connection will be used.
            if postgresql:
                storage = await asyncio.to_thread(open_storage, self.settings)
            else:
                storage = open_storage(self.settings)
        except StorageUnusable as exc:
            raise CliError(str(exc)) from None
        try:
            yield storage
        finally:
            if postgresql:
                await asyncio.to_thread(storage.close)
            else:
                storage.close()

    @asynccontextmanager
    async def control(self) -> AsyncIterator[ControlDb]:
        """The control data (SQLite: control.db), migrated, for the length of one command."""
        self.require_initialised()
        async with self._storage() as storage:
            yield storage.control

    @asynccontextmanager
    async def tenant_files(self) -> AsyncIterator[TenantDirectory]:
        """Every tenant's data (SQLite: its file, opened and migrated on first use), for the
        length of one command."""
        async with self._storage() as storage:
            yield storage.tenants

    def emit(self, payload: Any, lines: Sequence[str] | str) -> None:
        """Print `payload` as JSON with --json, else the human-readable lines."""
        if self.json_output:
            print(json.dumps(payload, indent=2, default=str))
        elif isinstance(lines, str):
            print(lines)
        else:
            for line in lines:
                print(line)


def table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    width: int | None = None,
    shrink: int = -1,
) -> list[str]:
    """Aligned plain-text columns; None shows as '-'.

    With `width`, column `shrink` is cut (ending in '…') until every line fits in `width`.
    """
    text = [[("-" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)
    ]
    if width is not None:
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        if excess > 0:
            widths[shrink] = max(len(headers[shrink]), widths[shrink] - excess)
            for r in text:
                r[shrink] = _cut(r[shrink], widths[shrink])
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in text]
    return out


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def init_hint(data_dir: Path, *, euid: int, system_data_dir: Path = SYSTEM_DATA_DIR) -> str:
    """What to do about a data dir that is not initialised, for whoever is asking.

    Root on an installed appliance gets the default ./var (SPEC §2: /var/lib/reliatic is the
    default only for the reliatic user), and `reliatic init` there would make /root/var. So
    where this looks like an appliance and the data dir was not chosen, point at the real one.
    """
    plain = f"run 'reliatic --data-dir {data_dir} init' first"
    on_appliance = euid == 0 or system_data_dir.exists()
    if not on_appliance or data_dir not in (LOCAL_DATA_DIR, system_data_dir):
        return plain
    as_user = f"sudo -u {SYSTEM_USER} reliatic"
    if control_file(system_data_dir).exists():
        return f"the appliance's data is in {system_data_dir}: run the command as '{as_user} ...'"
    return (
        f"on an installed appliance, create {system_data_dir} as its user: '{as_user} init';"
        f" for a data dir here, {plain}"
    )


def cli_who() -> Who:
    """The operator at the server's shell, as the audit log records them (`cli:<login>`)."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        login = str(os.getuid())
    return Who(f"cli:{login}")


def environment() -> dict[str, str]:
    return dict(os.environ)


def fail(message: str) -> int:
    print(f"reliatic: error: {message}", file=sys.stderr)
    return 1


def server_url(settings: Settings) -> str:
    """Where a client on this machine reaches the configured server (https with TLS on)."""
    server = settings.server
    host = server.host
    # Listening everywhere: loopback is one of those addresses.
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - compared, not bound
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if server.tls_cert is not None else "http"
    return f"{scheme}://{host}:{server.port}"


def curl_command(settings: Settings) -> str:
    """`curl -s`, trusting the configured certificate when TLS is on (it may be self-signed)."""
    cert = settings.server.tls_cert
    return "curl -s" if cert is None else f"curl -s --cacert {cert}"
