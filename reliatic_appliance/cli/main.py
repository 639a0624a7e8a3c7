"""`reliatic`: the command line (SPEC §2). `main(argv) -> exit status`.

Global options work before or after the subcommand (a `parents=[common]` parser). A user
mistake, a usage error included, is one line on stderr and exit status 1 (§2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from reliatic_appliance import __version__
from reliatic_appliance.cli import (
    assets_csv,
    audit,
    backup,
    config,
    demo,
    init,
    key,
    selftest,
    serve,
    storage_copy,
    tenant,
    user,
    webhook,
)
from reliatic_appliance.cli.context import CliContext, CliError, environment, fail
from reliatic_appliance.errors import ApiError
from reliatic_appliance.logs import configure_logging
from reliatic_appliance.settings import (
    ENV_CONFIG,
    ENV_DATA_DIR,
    Origin,
    SettingsError,
    Traced,
    check_environment,
    default_config_file,
    load_settings_traced,
    resolve_data_dir,
)

log = logging.getLogger("reliatic.cli")


class _Parser(argparse.ArgumentParser):
    """argparse, with SPEC §2's error shape: one line and exit 1, not usage + error and exit 2.

    Subcommand parsers are of the class of the parser that makes them, so this reaches all.
    """

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message}; see '{self.prog} --help'")


def _common() -> argparse.ArgumentParser:
    # SUPPRESS: a flag given after the subcommand must not be reset by the parent's default.
    common = _Parser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="data directory (env RELIATIC_DATA_DIR; default /var/lib/reliatic for the"
        " reliatic user, else ./var)",
    )
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="TOML config (env RELIATIC_CONFIG; default /etc/reliatic/reliatic.toml if present)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="reliatic",
        parents=[common],
        description="Reliatic Appliance: reliability and integrity data API for process plants.",
    )
    parser.add_argument("--version", action="version", version=f"reliatic {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = (
        init,
        serve,
        tenant,
        key,
        user,
        demo,
        webhook,
        audit,
        config,
        backup,
        assets_csv,
        selftest,
        storage_copy,
    )
    for module in modules:
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CliError as exc:
        return fail(str(exc))
    except SystemExit as exc:  # after --help or --version: a status, like every other way out
        return exc.code if isinstance(exc.code, int) else 0
    env = environment()
    try:
        traced, config_file = _settings(args, env)
    except SettingsError as exc:
        return fail(str(exc))
    settings = traced.settings
    if args.command == "serve":
        configure_logging(settings.logging.level)  # stdout: the journal
    else:
        # A command's stdout is its output (--json, an export written to stdout): its log
        # lines, warnings only, go beside the one-line errors on stderr.
        configure_logging("warning", sys.stderr)
    ctx = CliContext(
        settings=settings,
        json_output=getattr(args, "json", False),
        origins={**_locations(args, env), **traced.origins},
        config_file=config_file,
    )
    try:
        loop_factory = serve.loop_factory(settings) if args.command == "serve" else None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return int(runner.run(args.run(ctx, args)))
    except BrokenPipeError:
        return _reader_gone()
    except (CliError, ApiError, SettingsError) as exc:
        return fail(_one_line(exc))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.exception("unexpected error")
        return fail(f"unexpected {type(exc).__name__}; see the log above")


def _settings(args: argparse.Namespace, env: dict[str, str]) -> tuple[Traced, Path | None]:
    """SPEC §2: file < env < flags; a RELIATIC_* variable nothing reads is refused first."""
    check_environment(env)
    config = getattr(args, "config", None)
    config_file = default_config_file(env) if config is None else Path(config)
    if config_file is not None and not config_file.exists() and _may_create_config(args):
        config_file = None  # `init --tls --config NEW` writes it
    traced = load_settings_traced(
        data_dir=resolve_data_dir(getattr(args, "data_dir", None), env),
        config_file=config_file,
        env=env,
        overrides=args.overrides(args) if hasattr(args, "overrides") else None,
    )
    return traced, config_file


def _locations(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Origin]:
    """Where the data dir and the config file were named (`reliatic config show`)."""

    def origin(flag: str, given: object, from_env: bool, variable: str) -> Origin:
        if given is not None:
            return Origin("flag", flag)
        return Origin("env", variable) if from_env else Origin("default")

    # RELIATIC_CONFIG= (empty) chooses "no file"; an empty RELIATIC_DATA_DIR is ignored.
    return {
        "data_dir": origin(
            "--data-dir",
            getattr(args, "data_dir", None),
            bool(env.get(ENV_DATA_DIR, "").strip()),
            ENV_DATA_DIR,
        ),
        "config_file": origin(
            "--config", getattr(args, "config", None), ENV_CONFIG in env, ENV_CONFIG
        ),
    }


def _may_create_config(args: argparse.Namespace) -> bool:
    return bool(hasattr(args, "may_create_config") and args.may_create_config(args))


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ApiError) and exc.details:
        fields = "; ".join(
            f"{d.get('field')}: {d.get('message')}"
            for d in exc.details
            if str(d.get("message")) not in exc.message
        )
        if fields:
            return f"{exc.message} ({fields})"
    return " ".join(str(exc).split())


def _reader_gone() -> int:
    """Whoever read our output has stopped (`reliatic key list | head`): end quietly.

    Python's recipe (the signal module's note on SIGPIPE): stdout now points at /dev/null, so
    the interpreter's last flush cannot fail again, and the status is a SIGPIPE death's.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def entry() -> None:
    status = main()
    try:
        # Short output is still in the buffer when main returns: a closed pipe shows up here.
        sys.stdout.flush()
    except BrokenPipeError:
        status = _reader_gone()
    sys.exit(status)
