"""One delivery attempt (SPEC §7): sign it afresh, POST it once, decide what comes next and
have that recorded behind the send.

The HTTP part (`post`) knows nothing of the database: a URL, a body and signed headers in,
what happened out. `Sender.attempt` puts it together with the subscription as it is now
and the outcome's record (`services.deliveries.record_outcome`), which the sender does not
wait for: its slot is free as soon as the receiver has answered. `Records` keeps track of
those writes until they are committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp

from reliatic_appliance import __version__
from reliatic_appliance.domain.retry import AttemptResult, Decision, DeliveryStatus, decide
from reliatic_appliance.domain.signing import SigningKeys, sign_with, signing_keys
from reliatic_appliance.metrics import AppMetrics
from reliatic_appliance.ports import TenantDb
from reliatic_appliance.scheduler.claim import Claimed
from reliatic_appliance.scheduler.resolver import make_connector, refused_reason
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services import deliveries
from reliatic_appliance.services.target_grants import (
    GRANT_POLICY,
    TargetGrant,
    find_grant,
    is_loopback_https,
)
from reliatic_appliance.services.webhooks import signing_secrets, target_policy
from reliatic_appliance.settings import Settings
from reliatic_appliance.timefmt import format_ts

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Row = dict[str, Any]

# The most of a receiver's response we read: enough to log a status, never a memory risk.
MAX_RESPONSE_BYTES = 64 * 1024
# Sent with every delivery instead of aiohttp's `Python/3.x aiohttp/3.y`: receivers and
# their firewalls can tell our calls apart, and the stack's versions are nobody's business.
USER_AGENT = f"Reliatic-Webhooks/{__version__}"
SECRET_CACHE_SIZE = 1024


def open_session(settings: Settings) -> aiohttp.ClientSession:
    """The HTTP client every delivery goes through (call inside the running event loop)."""
    ca = settings.webhooks.ca_bundle
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    return _client(
        make_connector(
            target_policy(settings), limit=settings.webhooks.concurrency, ssl_context=context
        )
    )


def _client(connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
    # trust_env=False: a proxy would hide the real target from the address check.
    # No cookie jar: a receiver's cookies have no business in later deliveries.
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
    )


def granted_session(grant: TargetGrant) -> aiohttp.ClientSession:
    """A client for one granted delivery (services/target_grants.py): loopback allowed,
    and only a server holding the selftest's own certificate is trusted."""
    context = ssl.create_default_context(cadata=grant.ca_pem)
    return _client(make_connector(GRANT_POLICY, limit=1, ssl_context=context))


async def post(
    session: aiohttp.ClientSession,
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_seconds: float,
) -> AttemptResult:
    """POST once. Redirects are not followed; every failure is a result, not an exception."""
    started = time.perf_counter()  # a duration, not a time of day: not the clock's business
    status: int | None = None
    retry_after: str | None = None
    error: str | None = None
    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            status = response.status
            retry_after = response.headers.get("Retry-After")
            await response.content.read(MAX_RESPONSE_BYTES)
    except TimeoutError:
        error = f"timeout after {timeout_seconds:g} s"
    except aiohttp.ClientError as exc:
        reason = refused_reason(exc)
        error = f"target refused: {reason}" if reason else f"{type(exc).__name__}: {exc}"
    except OSError as exc:
        reason = refused_reason(exc)
        error = f"target refused: {reason}" if reason else f"{type(exc).__name__}"
    return AttemptResult(
        http_status=status,
        error=error[:500] if error else None,
        retry_after=retry_after,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


class Records:
    """The outbox writes made behind the sends, until they are committed: how many recorded
    a success, and a way to wait for the rest (at shutdown)."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()
        self._last_error: BaseException | None = None
        self.succeeded = 0

    def track(self, written: Awaitable[Any]) -> None:
        future = asyncio.ensure_future(written)  # no task for a backend's future
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.succeeded += future.result() is DeliveryStatus.SUCCEEDED
        elif error is not self._last_error:  # a failed commit fails its whole group: log once
            self._last_error = error
            # Not recorded: those rows stay leased until their lease ends, then are sent
            # again (at least once, never lost).
            log.error("recording delivery outcomes failed", exc_info=error)

    async def drain(self) -> None:
        """Until everything tracked so far is written (or has failed to be)."""
        while self._pending:
            await asyncio.wait(list(self._pending))


class Sender:
    """Sends one claimed row at a time; `session` is set while the scheduler runs."""

    def __init__(
        self,
        *,
        settings: Settings,
        box: SecretBox,
        clock: Clock,
        owner: str,
        records: Records,
        metrics: AppMetrics,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._box = box
        self._clock = clock
        self._owner = owner
        self._records = records
        self._rng = random.Random()
        self._key_cache: dict[tuple[Any, ...], SigningKeys] = {}
        self.session: aiohttp.ClientSession | None = None

    async def attempt(self, db: TenantDb, claimed: Claimed, *, tenant_slug: str) -> bool:
        """Send once and have the outcome recorded; False if the row must be given back."""
        assert self.session is not None
        row, now = claimed.row, self._clock()
        hooks = self._settings.webhooks
        webhook = await deliveries.current_webhook(db, row["webhook_id"])
        if webhook is None:
            return True  # removed meanwhile; the cascade removed the delivery too
        if not webhook["enabled"]:
            return False  # disabled since the claim (e.g. a 410): re-enabling sends it
        body = claimed.body()
        # Signed afresh for every attempt: receivers reject timestamps older than 5 min.
        headers = sign_with(
            self._keys(webhook, now),
            delivery_id=row["id"],
            event_type=row["event_type"],
            timestamp=int(now.timestamp()),
            body=body,
        )
        send = functools.partial(
            post,
            url=webhook["url"],
            body=body,
            headers=headers,
            timeout_seconds=hooks.timeout_seconds,
        )
        # Only a literal https loopback URL can have a grant: every other delivery skips this.
        grant = (
            find_grant(self._settings.data_dir, webhook["id"], webhook["url"], now=now)
            if is_loopback_https(webhook["url"])
            else None
        )
        if grant is None:
            result = await send(self.session)
        else:
            async with granted_session(grant) as session:
                result = await send(session)
        decision = decide(
            result,
            cycle_attempts=row["cycle_attempts"],
            schedule=hooks.retry_schedule_seconds,
            rng=self._rng,
            now=now,
        )
        self._metrics.delivery_attempt(_outcome_label(decision), _error_label(result))
        outcome = deliveries.Outcome(row, webhook, now, self._clock(), result, decision)
        written = deliveries.record_outcome(db, outcome, owner=self._owner)
        if decision.status is DeliveryStatus.FAILED:
            # Told once it is recorded: a lost lease means another scheduler's record stands.
            written = asyncio.ensure_future(written)
            written.add_done_callback(
                functools.partial(_warn_if_failed, tenant_slug, row, result.http_status)
            )
        self._records.track(written)
        return True

    def _keys(self, webhook: Row, now: datetime) -> SigningKeys:
        """The signing keys, decrypted and derived once per stored value, not per attempt."""
        key = (
            webhook["id"],
            webhook["secret_enc"],
            webhook["previous_secret_enc"],
            webhook["previous_secret_expires_at"] or "",
            # Whether the previous secret still signs changes with time, not with the row.
            bool(webhook["previous_secret_expires_at"])
            and webhook["previous_secret_expires_at"] > format_ts(now),
        )
        found = self._key_cache.get(key)
        if found is None:
            if len(self._key_cache) >= SECRET_CACHE_SIZE:
                self._key_cache.clear()
            secrets = signing_secrets(webhook, self._box, now)
            found = self._key_cache[key] = signing_keys(secrets)
        return found


def _outcome_label(decision: Decision) -> str:
    if decision.status is DeliveryStatus.SUCCEEDED:
        return "delivered"
    return "failed" if decision.status is DeliveryStatus.FAILED else "retry_scheduled"


def _error_label(result: AttemptResult) -> str | None:
    """Why an attempt did not deliver (metrics.ATTEMPT_ERRORS), None if it did."""
    if result.error is None:
        status = result.http_status
        return None if status is not None and 200 <= status < 300 else "http_status"
    if result.error.startswith("timeout"):
        return "timeout"
    if result.error.startswith("target refused"):
        return "target_refused"
    return "connection_error"


def _warn_if_failed(
    tenant_slug: str, row: Row, http_status: int | None, written: asyncio.Future[Any]
) -> None:
    """The one warning of a delivery that has finally failed (SPEC §7: its last retry spent,
    or a 410), once that is recorded. Ids only: never the URL (it may carry credentials),
    the secret or the payload."""
    if written.cancelled() or written.exception() is not None:
        return  # Records logs a failed write; the lease runs out and the row is sent again
    if written.result() is not DeliveryStatus.FAILED:
        return
    log.warning(
        "webhook delivery failed for good",
        extra={
            "fields": {
                "tenant": tenant_slug,
                "webhook_id": row["webhook_id"],
                "delivery_id": row["id"],
                "attempts": row["attempts"] + 1,
                "http_status": http_status,
            }
        },
    )
