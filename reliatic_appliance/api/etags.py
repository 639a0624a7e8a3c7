"""Strong ETags and conditional requests, once for every single resource (SPEC §3, RFC 9110).

- Every single-resource GET, PUT, status transition and DELETE whose response body is the
  resource's representation carries `ETag`: the SHA-256 of that representation's JSON as
  sent, so it changes whenever any field does, computed fields included.
- `If-Match` (`*` or a list of entity tags; strong comparison, so `W/` tags never match) on
  any write to a resource or one of its sub-resources (`/status`, `/rotate-secret`, …):
  compared with the row as it is *inside the write transaction* that changes it (a hook of
  `api/request_db.py`), so no other write can slip in between; on a mismatch the job raises
  412 `precondition_failed` and rolls back: nothing changes. A write that turns out to need
  no transaction (a no-op PUT) is checked against the current row afterwards.
- `If-None-Match` on a GET: 304 with the ETag and no body when it matches (weak comparison).
- Per RFC 9110 §13.2.1 preconditions are not evaluated when the request fails anyway: an
  unknown id is 404 whatever `If-Match` says.

Which operation does what comes from its declaration (`api/resources.py`: its resource,
its role, whether it answers with the representation). Collections and operations with no
resource (API keys) ignore these headers; a create answers with the new resource's ETag.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic_core
from aiohttp import web

from reliatic_appliance.api.resources import Resource, Role
from reliatic_appliance.api.responses import REPRESENTATION
from reliatic_appliance.errors import PreconditionFailed, ValidationError
from reliatic_appliance.ports import TenantTx

if TYPE_CHECKING:
    from reliatic_appliance.api.routes import Call, Handler, Operation


def honours_if_match(op: Operation) -> bool:
    """A write to one resource (or a sub-resource): If-Match is checked inside it."""
    return op.permission is not None and op.role in (Role.READ, Role.WRITE)


def bears_etag(op: Operation) -> bool:
    return op.represents


def supports_not_modified(op: Operation) -> bool:
    return op.role is Role.READ


# -- entity tags ---------------------------------------------------------------------------


def tag_of_json(representation: bytes) -> str:
    """A strong ETag: SHA-256 of the representation's JSON bytes, exactly as sent."""
    return '"' + hashlib.sha256(representation).hexdigest()[:40] + '"'


def etag_of_row(row: dict[str, Any]) -> str:
    """The ETag a response built from `row` carries. Rows hold only JSON values (SQLite
    text, numbers, null; lists/dicts for history) and a resource's row and its GET's `data`
    are one dict from one loader, keys in its column order, so they serialise to the same
    bytes (tests/test_etags.py holds every write's tag to the next GET's)."""
    return tag_of_json(pydantic_core.to_json(row))


def etag_of_response(response: web.Response, body: bytes) -> str:
    """The ETag of a single-resource response: of its `data`, not of `meta`. Responses
    built by `responses.single` carry their representation's bytes, so nothing is
    serialised again (a GET's cost); a replayed (stored) response is parsed."""
    representation = response.get(REPRESENTATION)
    if representation is None:
        representation = pydantic_core.to_json(json.loads(body)["data"])
    return tag_of_json(representation)


# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E.
_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e]*")\s*(?:,|$)')
HEADER_PATTERN = r'^\s*(\*|(W/)?"[!#-~]*"(\s*,\s*(W/)?"[!#-~]*")*)\s*$'


@dataclass(frozen=True)
class Condition:
    """A parsed `If-Match` / `If-None-Match`: `*`, or entity tags with their weakness."""

    any: bool
    tags: tuple[tuple[bool, str], ...]  # (weak, "opaque-tag")

    def matches(self, etag: str, *, strong: bool) -> bool:
        if self.any:
            return True
        # Strong comparison (If-Match): both strong and equal. Weak (If-None-Match): equal.
        return any(tag == etag and not (strong and weak) for weak, tag in self.tags)


def parse_condition(value: str | None, header: str) -> Condition | None:
    """None without the header; 400 naming it when it is not `*` or a list of tags."""
    if value is None:
        return None
    if value.strip() == "*":
        return Condition(any=True, tags=())
    tags = []
    position = 0
    while position < len(value):
        match = _TAG.match(value, position)
        if match is None:
            break
        tags.append((match[1] is not None, match[2]))
        position = match.end()
    if not tags or position < len(value):
        raise ValidationError.field(header, 'must be "*" or a list of entity tags like "abc"')
    return Condition(any=False, tags=tuple(tags))


# -- the precondition, checked in the write transaction --------------------------------------


class Precondition:
    """`If-Match` for one request; `check` runs as a before-hook of its write jobs."""

    def __init__(self, condition: Condition, resource: Resource, resource_id: str) -> None:
        self.condition = condition
        self.resource = resource
        self.resource_id = resource_id
        self.checked = False

    def verify(self, row: dict[str, Any]) -> None:
        if not self.condition.matches(etag_of_row(row), strong=True):
            raise PreconditionFailed(
                "The resource has changed since you read it (If-Match does not match its"
                " current ETag); GET it again and retry.",
                [{"field": "If-Match", "message": "does not match the current ETag"}],
            )

    def check(self, tx: TenantTx) -> None:
        """In the write, before the work: a missing row raises the service's own 404."""
        if self.checked:
            return  # a second write of the same request: the first one checked
        self.verify(self.resource.load(tx, self.resource_id))
        self.checked = True


def _tagged(handler: Handler) -> Handler:
    """`handler`, its successful response carrying the ETag of the representation it holds
    (SPEC §3: so a client can write again without a GET first)."""

    async def run(call: Call) -> web.StreamResponse:
        response = await handler(call)
        if isinstance(response, web.Response) and response.status < 300:
            body = response.body
            if isinstance(body, bytes) and body:
                response.headers["ETag"] = etag_of_response(response, body)
        return response

    return run


def conditional(op: Operation, handler: Handler) -> Handler:
    """`handler` under `op`'s preconditions, adding the ETag to its response.

    What applies to `op` is decided here, once, not on every request: a create gets its
    ETag only; other operations without a resource (collections, API keys) get `handler`.
    """
    resource = op.resource
    if resource is None or op.permission is None or op.role is Role.LIST:
        return handler
    if op.role is Role.CREATE:
        return _tagged(handler) if op.represents else handler
    tagged = op.represents
    is_get = op.method == "GET"

    async def run(call: Call) -> web.StreamResponse:
        headers = call.request.headers
        # Most requests carry neither header: no parse for them.
        if_match = if_none_match = None
        if "If-Match" in headers:
            if_match = parse_condition(headers["If-Match"], "If-Match")
        if is_get and "If-None-Match" in headers:
            if_none_match = parse_condition(headers["If-None-Match"], "If-None-Match")
        precondition = None
        if if_match is not None and not is_get:
            precondition = Precondition(if_match, resource, call.params[resource.param])
            call.guards.before.append(precondition.check)
        response = await handler(call)
        if precondition is not None and not precondition.checked and response.status < 300:
            # No write transaction ran, so nothing changed: compare with the row as it is now.
            db = await call.tenant_db()
            resource_id = call.params[resource.param]
            precondition.verify(await db.read(lambda tx: resource.load(tx, resource_id)))
        if not tagged or not isinstance(response, web.Response):
            return response
        body = response.body
        if response.status >= 300 or not isinstance(body, bytes) or not body:
            return response
        etag = etag_of_response(response, body)
        response.headers["ETag"] = etag
        if is_get:
            if if_match is not None and not if_match.matches(etag, strong=True):
                raise PreconditionFailed(
                    "If-Match does not match the resource's current ETag.",
                    [{"field": "If-Match", "message": "does not match the current ETag"}],
                )
            if if_none_match is not None and if_none_match.matches(etag, strong=False):
                return web.Response(status=304, headers={"ETag": etag})
        return response

    return run
