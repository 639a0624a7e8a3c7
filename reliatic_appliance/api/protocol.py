"""The HTTP connection: a request aiohttp's parser refuses is answered like any other error.

aiohttp answers a request its HTTP parser refuses (a URL or a header over 8190 bytes, more
than 128 headers, malformed HTTP) itself, before any middleware runs: in plain text that
quotes up to 100 bytes of the offending line, which can be an API key, with its own
`Server: Python/… aiohttp/…` and no X-Request-Id. It has no hook for that answer
(aio-libs/aiohttp#3287), so the connections of `reliatic serve` are handled by a
`RequestHandler` whose `handle_error` gives the request to `middlewares.answer_unserved`:
414, 431 or 400 in the SPEC §3 shape, from the one error path, with the usual headers.
"""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from reliatic_appliance.api.middlewares import answer_unserved

# What the parser accepts: aiohttp's defaults, pinned because the README and the OpenAPI
# document's 414 and 431 state them. A URL (the whole request line with the pure-Python
# parser) and each header field up to 8190 bytes, and up to 128 header fields.
MAX_LINE_BYTES = 8190
MAX_FIELD_BYTES = 8190
MAX_HEADERS = 128


class _RequestHandler(web.RequestHandler):
    __slots__ = ("_app",)

    def __init__(self, manager: web.Server, *, app: web.Application, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._app = app

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Replaces aiohttp's plain-text answer; `message`, which quotes the request, is
        not used. The connection is closed afterwards, as aiohttp does."""
        if request.writer.output_size > 0:
            # As aiohttp: part of a response went out already, so the connection is broken.
            raise ConnectionError("Response is sent already, cannot send another response")
        if isinstance(exc, HttpProcessingError):
            # The exception's type only: its text quotes the request.
            self.logger.warning(
                "Error handling request from %s: malformed HTTP (%s)",
                request.remote,
                type(exc).__name__,
            )
        # The app's request factory made this request, so it is a web.Request.
        response = answer_unserved(self._app, cast(web.Request, request), status, exc)
        response.force_close()
        return response


class _Server(web.Server):
    """The server aiohttp made for the app, making connections of `_RequestHandler`."""

    def __init__(self, app: web.Application, made: web.Server) -> None:
        super().__init__(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            **made._kwargs,
        )
        self._app = app

    def __call__(self) -> web.RequestHandler:
        return _RequestHandler(self, app=self._app, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """`web.AppRunner`, with parser errors answered in the API's error shape."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        limits = {
            "max_line_size": MAX_LINE_BYTES,
            "max_field_size": MAX_FIELD_BYTES,
            "max_headers": MAX_HEADERS,
        }
        super().__init__(app, **{**limits, **kwargs})

    async def _make_server(self) -> web.Server:
        # The parent starts the app and makes its server; ours takes that server's settings.
        return _Server(self.app, await super()._make_server())
