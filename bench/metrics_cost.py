"""What recording one request's metrics costs (docs/operations.md, "Monitoring").

The middleware's addition for every request: the matched resource, its template, and
`AppMetrics.observe_request` (a cached counter child and histogram child). CPU time, best of
7, so other processes on the machine do not count. `python bench/metrics_cost.py`
"""

from __future__ import annotations

import asyncio
import time
import timeit

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from reliatic_appliance.metrics import AppMetrics

N = 200_000


async def _handler(request: web.Request) -> web.Response:
    return web.Response()


def main() -> None:
    app = web.Application()
    app.router.add_get("/api/v1/assets/{asset_id}", _handler)
    metrics = AppMetrics()
    request = make_mocked_request("GET", "/api/v1/assets/ast_1", app=app)
    request._match_info = asyncio.run(app.router.resolve(request))  # as aiohttp sets it

    def record() -> None:  # what api/middlewares.py front_door adds
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else None
        metrics.observe_request(request.method, resource, template, 200, 0.0003)

    best = min(timeit.repeat(record, number=N, repeat=7, timer=time.process_time))
    print(f"recording a request's metrics: {best / N * 1e6:.2f} µs of CPU (best of 7 x {N})")


if __name__ == "__main__":
    main()
