"""JSON responses in the API's envelopes (SPEC §3). Handlers build responses only here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic_core
from aiohttp import web

from reliatic_appliance.timefmt import format_meta_ts

JSON_TYPE = "application/json"


def json_response(
    payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # pydantic-core serialises plain dicts several times faster than the stdlib.
    return json_bytes_response(pydantic_core.to_json(payload), status=status, headers=headers)


def json_bytes_response(
    body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A response whose JSON body is already serialised."""
    return web.Response(body=body, status=status, content_type=JSON_TYPE, headers=headers)


# The JSON of the representation a single-resource response stands for: its ETag is of
# these bytes (api/etags.py). Usually the body's `data`, as sent.
REPRESENTATION = web.ResponseKey("representation", bytes)


def single(data: dict[str, Any], *, now: datetime, status: int = 200) -> web.Response:
    """`{"data": {...}, "meta": {"timestamp": ...}}`, stamped with the app clock's `now`.

    `data` is serialised once, for the body and for the ETag alike (`make bench`, "GET one
    asset": the envelope and the tag were two serialisations and a sorted copy).
    """
    data_json = pydantic_core.to_json(data)
    # The timestamp is digits, '-', ':', 'T' and 'Z': JSON text as it is, no escaping.
    stamp = format_meta_ts(now).encode("ascii")
    response = json_bytes_response(
        b'{"data":' + data_json + b',"meta":{"timestamp":"' + stamp + b'"}}', status=status
    )
    response[REPRESENTATION] = data_json
    return response


def represents(response: web.Response, data: dict[str, Any]) -> web.Response:
    """Mark `response` as standing for `data` rather than its body's `data` (a response
    that also shows a secret once has the ETag of what a GET returns)."""
    response[REPRESENTATION] = pydantic_core.to_json(data)
    return response


def created(data: dict[str, Any], collection_path: str, *, now: datetime) -> web.Response:
    """201 with the new resource and its `Location` (`collection_path` + `/` + id)."""
    response = single(data, now=now, status=201)
    response.headers["Location"] = f"{collection_path}/{data['id']}"
    return response
