"""THE pagination helper: page parameters in, `meta` and RFC 8288 `Link` out (SPEC §3)."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.responses import json_response
from reliatic_appliance.schemas.common import PageOnlyQuery
from reliatic_appliance.services.paging import Page, PageRequest


def page_request(query: PageOnlyQuery) -> PageRequest:
    return PageRequest(page=query.page, per_page=query.per_page)


def _link_header(request: web.Request, page: Page) -> str:
    current = page.request.page
    last = max(page.total_pages, 1)
    targets = {"first": 1, "last": last}
    if current > 1:
        targets["prev"] = min(current - 1, last)
    if current < page.total_pages:
        targets["next"] = current + 1
    links = []
    for rel in ("first", "prev", "next", "last"):
        if rel in targets:
            url = request.rel_url.update_query(page=targets[rel])
            links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


def collection(request: web.Request, page: Page) -> web.Response:
    """`{"data": [...], "meta": {page, per_page, total, total_pages}}` with a Link header."""
    return json_response(
        {
            "data": page.items,
            "meta": {
                "page": page.request.page,
                "per_page": page.request.per_page,
                "total": page.total,
                "total_pages": page.total_pages,
            },
        },
        headers={"Link": _link_header(request, page)},
    )
