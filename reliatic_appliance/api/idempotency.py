"""`Idempotency-Key` (SPEC §3), once for every write operation of the tenant API.

A client that timed out retries with the same key; the server must not do the work twice.

- Where: every POST of a tenant (status transitions, redeliver, test ping included) and,
  since a retried status transition is just as unsafe, every PUT and DELETE too. Public
  endpoints ignore the header. Checked after authentication, permission and input
  validation: a request refused there did nothing and is refused again the same way.
- Scope: the tenant's own file, per API key (two integrations may pick the same key).
- Same key, same request (method, path, body as validated, `If-Match`), within 24 h: the
  first response is replayed — status, body and its `Location`, `ETag`, `Cache-Control`
  headers — with `Idempotent-Replayed: true`, without doing the work again, even after a
  restart. A different request with that key: 409 `conflict`. Records older than 24 h are
  ignored and purged by the scheduler's housekeeping.
- Concurrency: a second request with a key whose first request is still running waits for
  it (`api/inflight.py`), then gets the replay. The work runs once. On several nodes
  (SPEC §11) the first may run on another one: the work's transaction checks the record
  under the tenant's write lock (`services.idempotency.check_free`), and the one that lost
  waits for the winner's response and replays it.
- Which outcomes are kept: every response below 500, 4xx included (as Stripe does: the same
  request gets the same answer). A 5xx (or 503 busy/full disk) is not kept when no work was
  committed, so the client may retry with the same key.
- Crash safety: the record is written `applied` inside the work's own transaction
  (`api/request_db.py`), so no record means the work never committed and is redone; one
  left `applied` (work committed, response lost) is a 409 telling the client to look the
  result up, never a second execution.
  (API-key creation writes control.db, another file, so it cannot be marked atomically.)
- Responses that carry a secret (`Cache-Control: no-store`: a new API key or webhook
  secret) are stored encrypted with the master key (`SecretBox`), never in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pydantic_core
from aiohttp import web

from reliatic_appliance.errors import ApiError, Conflict, ValidationError
from reliatic_appliance.keys import CLOCK, IDEMPOTENCY_INFLIGHT, SECRET_BOX, TENANT_DBS
from reliatic_appliance.ports import TenantDb, TenantTx
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services import idempotency
from reliatic_appliance.timefmt import format_ts

if TYPE_CHECKING:
    from reliatic_appliance.api.routes import Call, Handler, Operation

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PUT", "DELETE"})
# 1-255 printable ASCII characters, no leading or trailing space (HTTP strips those anyway).
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
# Response headers that belong to the stored response; the rest are per request.
_KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Cache-Control")
# How long a request waits for another node's request with its key to store its response
# (that one's work has committed; only the response's write is left): 3 s in 50 ms steps,
# for an `applied` record younger than the window (older ones are responses lost).
_WAIT_FOR_OTHER_STEPS = 60
_WAIT_FOR_OTHER_STEP_SECONDS = 0.05
_OTHER_NODE_WINDOW = timedelta(seconds=60)


def applies_to(op: Operation) -> bool:
    return op.permission is not None and op.method in METHODS


def _key(call: Call) -> str | None:
    value = call.request.headers.get(HEADER)
    if value is None:
        return None
    if not _KEY.match(value):
        raise ValidationError.field(HEADER, "must be 1 to 255 printable ASCII characters")
    return value


def _fingerprint(op: Operation, call: Call) -> bytes:
    """What makes two requests "the same": method, path, validated body, If-Match."""
    body = b"" if call.body is None else call.body.model_dump_json(exclude_unset=True).encode()
    digest = hashlib.sha256()
    for part in (op.method, call.request.path, call.request.headers.get("If-Match", "")):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\n")
    digest.update(body)
    return digest.digest()


def _sealed_ad(principal: str, key: str) -> bytes:
    # Binds a sealed body to its record: copied to another record, it will not decrypt.
    return f"idempotency:{principal}:{key}".encode("utf-8", "surrogateescape")


def _replay(record: dict[str, Any], box: SecretBox) -> web.Response:
    meta = json.loads(record["headers"])
    body: bytes | None = record["body"]
    if body and meta.get("sealed"):
        ad = _sealed_ad(record["principal"], record["idem_key"])
        body = box.decrypt(body, associated_data=ad).encode("utf-8")
    headers = {**meta["headers"], REPLAYED: "true"}
    return web.Response(status=record["status"], body=body or None, headers=headers)


async def _settled(call: Call, db: TenantDb, principal: str, key: str) -> dict[str, Any] | None:
    """The key's record; one `applied` a moment ago may be another node's request whose
    work has committed and whose response is being stored, so that one is waited for (a
    little while) rather than taken at once for a response lost in a crash."""
    clock = call.request.app[CLOCK]
    record = await idempotency.find(db, principal, key, now=clock())
    for _ in range(_WAIT_FOR_OTHER_STEPS):
        if record is None or record["state"] != idempotency.APPLIED:
            break
        if record["created_at"] < format_ts(clock() - _OTHER_NODE_WINDOW):
            break  # too old to be a request still running: its response was lost
        await asyncio.sleep(_WAIT_FOR_OTHER_STEP_SECONDS)
        record = await idempotency.find(db, principal, key, now=clock())
    return record


def _conflict(message: str, detail: str) -> Conflict:
    return Conflict(message, [{"field": HEADER, "message": detail}])


def _check_reuse(record: dict[str, Any], fingerprint: bytes, op: Operation, path: str) -> None:
    same = (
        record["method"] == op.method
        and record["path"] == path
        and bytes(record["request_hash"]) == fingerprint
    )
    if not same:
        raise _conflict(
            "This Idempotency-Key was already used in the last 24 hours for a different"
            " request (method, path, body or If-Match); use a new key for a new request.",
            "was already used for a different request",
        )
    if record["state"] == idempotency.APPLIED:
        raise _conflict(
            "The first request with this Idempotency-Key was carried out, but its response"
            " was lost when the server stopped; read the resource to see the result.",
            "its first request was carried out but the response was lost",
        )


class _Record:
    """One request's record: marked applied inside its work, then its response kept."""

    def __init__(self, db: TenantDb, box: SecretBox, claim: idempotency.Claim) -> None:
        self.db = db
        self.box = box
        self.claim = claim

    def check_free(self, tx: TenantTx) -> None:
        idempotency.check_free(tx, self.claim)

    def mark_applied(self, tx: TenantTx) -> None:
        idempotency.mark_applied(tx, self.claim)

    async def keep(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Store the response for replays. Never fails the request: if the disk refuses,
        the client still gets its answer and a retry learns the record's state."""
        claim = self.claim
        sealed = "no-store" in headers.get("Cache-Control", "") and bool(body)
        if sealed:
            ad = _sealed_ad(claim.principal, claim.key)
            body = self.box.encrypt(body.decode("utf-8"), associated_data=ad)
        meta = json.dumps({"headers": headers, "sealed": sealed})
        try:
            await idempotency.keep(self.db, claim, status=status, headers=meta, body=body)
        except ApiError:
            log.warning("could not store an idempotent response")


def _kept_headers(headers: Any) -> dict[str, str]:
    return {name: headers[name] for name in _KEPT_HEADERS if name in headers}


def idempotent(op: Operation, handler: Handler) -> Handler:
    """`handler`, run at most once per (API key, Idempotency-Key) within 24 hours; the
    operations the header does not apply to get `handler` itself."""
    if not applies_to(op):
        return handler

    async def run(call: Call) -> web.StreamResponse:
        key = _key(call)
        if key is None:
            return await handler(call)
        return await _run_keyed(op, call, handler, key)

    return run


async def _run_keyed(op: Operation, call: Call, handler: Handler, key: str) -> web.StreamResponse:
    app = call.request.app
    principal = call.require_principal()
    db = await app[TENANT_DBS].get(principal.tenant_id)
    fingerprint = _fingerprint(op, call)
    path = call.request.path
    async with app[IDEMPOTENCY_INFLIGHT].hold((principal.tenant_id, principal.actor, key)):
        now = app[CLOCK]()
        record = await _settled(call, db, principal.actor, key)
        if record is not None:
            _check_reuse(record, fingerprint, op, path)
            if record["state"] == idempotency.DONE:
                return _replay(record, app[SECRET_BOX])
            # Left `in_progress` by a process that stopped: the work never committed.
        claim = idempotency.Claim(
            principal.actor, key, op.method, path, fingerprint, format_ts(now)
        )
        try:
            return await _run_once(call, handler, _Record(db, app[SECRET_BOX], claim))
        except idempotency.TakenElsewhere:
            pass
        # Another node's request with this key got there first: answer with its response.
        record = await _settled(call, db, principal.actor, key)
        if record is None:  # purged meanwhile: nothing to replay, and nothing done twice
            raise _conflict(
                "Another request with this Idempotency-Key was running; retry it.",
                "another request with this key was running",
            )
        _check_reuse(record, fingerprint, op, path)
        return _replay(record, app[SECRET_BOX])


async def _run_once(call: Call, handler: Handler, record: _Record) -> web.StreamResponse:
    # The `applied` mark rides in the work's own transaction: no trip of its own. The
    # check before the work is what holds a request with this key on another node.
    call.guards.before.append(record.check_free)
    call.guards.after.append(record.mark_applied)
    try:
        response = await handler(call)
    except ApiError as error:
        if error.status < 500:
            body = pydantic_core.to_json(error.body())
            headers = {**error.headers, "Content-Type": "application/json"}
            await record.keep(error.status, _kept_headers(headers), body)
        # A 5xx keeps nothing: if no work committed, there is no record and a retry redoes
        # it; if it did, the record is `applied` and a retry learns the work was done.
        raise
    payload = response.body if isinstance(response, web.Response) else None
    if response.status >= 500 or not (payload is None or isinstance(payload, bytes)):
        return response
    await record.keep(response.status, _kept_headers(response.headers), payload or b"")
    return response
