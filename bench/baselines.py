"""The two reference servers the benchmark measures against, on the same machine and run.

- `aiohttp`: the framework ceiling. The smallest aiohttp app that answers `GET /hello`
  with a small JSON body, served like `reliatic serve` serves (AppRunner, default asyncio
  loop, no access log): no server built on aiohttp can beat it.
- `fastapi`: the peer a user would otherwise pick. FastAPI with `uvicorn[standard]`
  (uvloop and httptools, uvicorn's fastest set-up), an `async def` handler returning a
  small dict, access log off: a strong peer, not a straw man.

Run: `python bench/baselines.py aiohttp|fastapi PORT`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

BODY = {"data": {"id": "ast_01JQ8Z6X4M0000000000000000", "tag_number": "V-101"}}


async def _aiohttp(port: int) -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.json_response(BODY)

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def _fastapi(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, Any]:
        return BODY

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "aiohttp":
        asyncio.run(_aiohttp(port))
    elif kind == "fastapi":
        _fastapi(port)
    else:
        raise SystemExit(f"unknown baseline {kind!r}: aiohttp or fastapi")
