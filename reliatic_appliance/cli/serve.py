"""`reliatic serve`: run the API until SIGTERM/SIGINT, then drain and stop cleanly."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from collections.abc import Callable

from aiohttp import web

from reliatic_appliance import systemd_notify
from reliatic_appliance.api.protocol import AppRunner
from reliatic_appliance.app import create_app
from reliatic_appliance.cli.context import CliContext, CliError
from reliatic_appliance.settings import Settings
from reliatic_appliance.storage.layout import DataDirBusy, initialise
from reliatic_appliance.tlscert import TlsError, server_context

log = logging.getLogger("reliatic.serve")

# How long in-flight requests get to finish after SIGTERM (below systemd's TimeoutStopSec).
DRAIN_SECONDS = 20.0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "serve",
        parents=[common],
        help="run the server (default 127.0.0.1:8080)",
        epilog="example: reliatic --data-dir ./var serve --host 0.0.0.0 --port 8080",
    )
    parser.add_argument("--host", help="address to listen on (config: [server] host)")
    parser.add_argument("--port", type=int, help="port to listen on (config: [server] port)")
    parser.set_defaults(run=run, overrides=lambda a: {"server": {"host": a.host, "port": a.port}})


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """HTTPS when `[server] tls_cert, tls_key` are set; a bad pair is a one-line CliError."""
    server = settings.server
    if server.tls_cert is None or server.tls_key is None:
        return None
    try:
        return server_context(server.tls_cert, server.tls_key)
    except TlsError as exc:
        raise CliError(str(exc)) from None


async def _watchdog(interval: float) -> None:
    while True:
        systemd_notify.watchdog()
        await asyncio.sleep(interval)


def loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop `serve` runs on (`[server] event_loop`); None: asyncio's own."""
    if settings.server.event_loop == "asyncio":
        return None
    try:
        # Optional, so imported only by a server configured for it.
        import uvloop
    except ImportError:
        raise CliError(
            '[server] event_loop = "uvloop" needs the uvloop package:'
            " pip install 'reliatic-appliance[uvloop]'"
        ) from None
    return uvloop.new_event_loop


def _loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return f"{type(loop).__module__}.{type(loop).__qualname__}"


async def serve(
    settings: Settings, stop: asyncio.Event, context: ssl.SSLContext | None = None
) -> None:
    """Serve until `stop` is set; then stop accepting, drain, and close the databases.

    With `context`, HTTPS: aiohttp then reports `request.secure` (cookies get `Secure`).
    """
    initialise(settings.data_dir, settings.storage.busy_timeout_ms)
    app = create_app(settings)
    # Ours: a request the HTTP parser refuses is answered in the API's error shape too.
    runner = AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    # What exists now (routes, schemas, the OpenAPI document) lives as long as the process:
    # out of the collector's sight, a full collection under load walks only request garbage.
    gc.freeze()
    site = web.TCPSite(
        runner,
        settings.server.host,
        settings.server.port,
        ssl_context=context,
        shutdown_timeout=DRAIN_SECONDS,
    )
    watchdog_task = None
    try:
        await site.start()
        scheme = "https" if context else "http"
        log.info(
            "listening",
            extra={
                "fields": {
                    "url": f"{scheme}://{settings.server.host}:{settings.server.port}",
                    "data_dir": str(settings.data_dir),
                    # The loop actually running, not the setting: what an operator checks.
                    "event_loop": _loop_name(asyncio.get_running_loop()),
                }
            },
        )
        systemd_notify.ready()
        interval = systemd_notify.watchdog_interval_seconds()
        if interval:
            watchdog_task = asyncio.create_task(_watchdog(interval))
        await stop.wait()
        log.info("stopping: draining in-flight requests")
        systemd_notify.stopping()
    finally:
        if watchdog_task is not None:
            watchdog_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog_task
        await runner.cleanup()
    log.info("stopped")


async def run(ctx: CliContext, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Before anything starts: a bad certificate or key stops here, with one line.
    context = ssl_context(ctx.settings)
    try:
        await serve(ctx.settings, stop, context)
    except DataDirBusy:
        raise CliError(
            f"{ctx.settings.data_dir} is held by another process (a restore?); try again later"
        ) from None
    except OSError as exc:
        raise CliError(
            f"cannot listen on {ctx.settings.server.host}:{ctx.settings.server.port}:"
            f" {exc.strerror or exc}"
        ) from None
    return 0
