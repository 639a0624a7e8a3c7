"""THE pagination helper: page parameters in, `meta` and RFC 8288 `Link` out (SPEC §3)."""

from __future__ import annotations

from urllib.parse import urlencode

import pydantic_core
from aiohttp import web

from reliatic_appliance.api.responses import json_bytes_response, json_response
from reliatic_appliance.schemas.common import CursorPageQuery, PageOnlyQuery
from reliatic_appliance.services.paging import Page, PageRequest


def page_request(query: PageOnlyQuery) -> PageRequest:
    after = query.after if isinstance(query, CursorPageQuery) else None
    return PageRequest(page=query.page, per_page=query.per_page, after=after)


def _cursor_links(request: web.Request, page: Page) -> str:
    """With `after`: `first` (the list's start) and, unless this is the end, `next`."""
    query = {k: v for k, v in request.rel_url.query.items() if k not in ("after", "page")}
    links = [f'<{request.rel_url.with_query(query)}>; rel="first"']
    if page.next_after is not None:
        url = request.rel_url.with_query({**query, "after": page.next_after})
        links.append(f'<{url}>; rel="next"')
    return ", ".join(links)


def _link_header(request: web.Request, page: Page) -> str:
    if page.request.after is not None:
        return _cursor_links(request, page)
    current = page.request.page
    last = max(page.total_pages, 1)
    targets = {"first": 1, "last": last}
    if current > 1:
        targets["prev"] = min(current - 1, last)
    if current < page.total_pages:
        targets["next"] = current + 1
    # The request's own query with `page` last, encoded once for all four links (a URL
    # object per link cost a twentieth of a whole list request).
    others = [(k, v) for k, v in request.rel_url.query.items() if k != "page"]
    prefix = f"{request.rel_url.raw_path}?{urlencode([*others, ('page', '')])}"
    return ", ".join(
        f'<{prefix}{targets[rel]}>; rel="{rel}"'
        for rel in ("first", "prev", "next", "last")
        if rel in targets
    )


def collection(request: web.Request, page: Page) -> web.Response:
    """`{"data": [...], "meta": {page, per_page, total, total_pages}}` with a Link header."""
    meta = {
        "page": page.request.page,
        "per_page": page.request.per_page,
        "total": page.total,
        "total_pages": page.total_pages,
    }
    headers = {"Link": _link_header(request, page)}
    if page.items_json is not None:
        data = ",".join(page.items_json).encode()
        body = b'{"data":[' + data + b'],"meta":' + pydantic_core.to_json(meta) + b"}"
        return json_bytes_response(body, headers=headers)
    return json_response({"data": page.items, "meta": meta}, headers=headers)
