"""`reliatic config show`: the effective configuration, where each value came from, secrets
masked (SPEC §2).

It shows what `reliatic serve` would use with the same file, environment and flags, so it
takes serve's flags too: `reliatic config show --port 9000` answers "what if".
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reliatic_appliance.cli.context import CliContext, table
from reliatic_appliance.settings import Origin, redacted_dump

# The flags that set a setting (`reliatic serve`'s, and this command's copy of them).
FLAGS = {"server.host": "--host", "server.port": "--port"}


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("config", help="inspect the configuration")
    commands = parser.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    show = commands.add_parser(
        "show",
        parents=[common],
        help="the effective configuration, the source of each value, secrets masked",
        epilog="example: RELIATIC_SERVER_PORT=8443 reliatic config show --json",
    )
    show.add_argument("--host", help="as for 'reliatic serve': [server] host")
    show.add_argument("--port", type=int, help="as for 'reliatic serve': [server] port")
    show.set_defaults(
        run=run_show, overrides=lambda a: {"server": {"host": a.host, "port": a.port}}
    )


def effective(
    settings: BaseModel, origins: Mapping[str, Origin], *, config_file: Path | None = None
) -> list[dict[str, Any]]:
    """One entry per setting: dotted name, value (secrets masked), source and where from
    (`from`: the file's path, the variable's name or the flag). `data_dir` and `config_file`
    come first when `origins` names them."""
    dump = redacted_dump(settings)
    rows = []
    if "data_dir" in origins:
        rows.append(_row("data_dir", dump["data_dir"], origins["data_dir"]))
    if "config_file" in origins:
        path = None if config_file is None else str(config_file)
        rows.append(_row("config_file", path, origins["config_file"]))
    for section, values in dump.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            name = f"{section}.{key}"
            rows.append(_row(name, value, origins.get(name, Origin("default"))))
    return rows


def _row(name: str, value: Any, origin: Origin) -> dict[str, Any]:
    where = FLAGS.get(name) if origin.kind == "flag" and origin.name is None else origin.name
    return {"name": name, "value": value, "source": origin.kind, "from": where}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


async def run_show(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = effective(ctx.settings, ctx.origins, config_file=ctx.config_file)
    lines = table(
        [
            (
                row["name"],
                _text(row["value"]),
                row["source"] + (f" ({row['from']})" if row["from"] else ""),
            )
            for row in rows
        ],
        ["SETTING", "VALUE", "SOURCE"],
    )
    ctx.emit(rows, lines)
    return 0
