"""One webhook delivery attempt over HTTP (SPEC §7).

Sending knows nothing of the database: it takes a URL, a body and signed headers and
returns what happened. `domain.retry.decide` turns that into the delivery's next state.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from reliatic_appliance import __version__
from reliatic_appliance.domain.retry import AttemptResult
from reliatic_appliance.scheduler.resolver import refused_reason

# The most of a receiver's response we read: enough to log a status, never a memory risk.
MAX_RESPONSE_BYTES = 64 * 1024
# Sent with every delivery instead of aiohttp's `Python/3.x aiohttp/3.y`: receivers and
# their firewalls can tell our calls apart, and the stack's versions are nobody's business.
USER_AGENT = f"Reliatic-Webhooks/{__version__}"


async def send(
    session: aiohttp.ClientSession,
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout_seconds: float,
) -> AttemptResult:
    """POST once. Redirects are not followed; every failure is a result, not an exception."""
    started = time.perf_counter()
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
    except asyncio.CancelledError:
        raise
    return AttemptResult(
        http_status=status,
        error=error[:500] if error else None,
        retry_after=retry_after,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
