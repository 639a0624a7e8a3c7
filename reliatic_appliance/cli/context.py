"""What every command needs: the data dir, settings, output mode, and open databases."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliatic_appliance.ports import ControlDb
from reliatic_appliance.settings import Settings
from reliatic_appliance.storage.tenancy import control_file, open_control


class CliError(Exception):
    """A user mistake: printed as one line on stderr, exit status 1."""


@dataclass(frozen=True)
class CliContext:
    settings: Settings
    json_output: bool

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def require_initialised(self) -> None:
        if not control_file(self.data_dir).exists():
            raise CliError(
                f"{self.data_dir} is not initialised; run 'reliatic --data-dir"
                f" {self.data_dir} init' first"
            )

    @asynccontextmanager
    async def control(self) -> AsyncIterator[ControlDb]:
        """control.db, migrated, for the length of one command."""
        self.require_initialised()
        db = open_control(self.data_dir, busy_timeout_ms=self.settings.storage.busy_timeout_ms)
        try:
            yield db
        finally:
            db.close()

    def emit(self, payload: Any, lines: Sequence[str] | str) -> None:
        """Print `payload` as JSON with --json, else the human-readable lines."""
        if self.json_output:
            print(json.dumps(payload, indent=2, default=str))
        elif isinstance(lines, str):
            print(lines)
        else:
            for line in lines:
                print(line)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> list[str]:
    """Aligned plain-text columns; None shows as '-'."""
    text = [[("-" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in text]
    return out


def environment() -> dict[str, str]:
    return dict(os.environ)


def fail(message: str) -> int:
    print(f"reliatic: error: {message}", file=sys.stderr)
    return 1
