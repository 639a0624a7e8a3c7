"""The Prometheus metrics of one app (SPEC §3 `/metrics`), on a registry of its own.

Never the library's global default registry: tests create many apps in one process, and
each must count only its own requests. Everything here is made in `create_app` and lives on
`keys.METRICS`; storage and the scheduler are handed plain callables or this object, so the
storage layer never imports prometheus_client.

Label values are bounded by construction: requests are labelled by route *template*
(`/api/v1/assets/{asset_id}`, never the raw path), unmatched paths share the label `unmatched`,
and methods outside the HTTP set share `other`. The two request families are counted in plain
ints by `RequestCounts` (one dict lookup, a bisect and three additions a request) and become
Prometheus families only when scraped: the library's own Counter and Histogram take a lock and
walk the buckets in Python, a twentieth of a small GET's instructions (`bench/instructions.py`).

Figures read at scrape time are not counted on the request path: the scrape handler reads
the outbox through a service (`services.deliveries.backlog`) and hands it, with the newest
backup's time, to `ScrapeTimeCollector` just before the exposition is rendered.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

# Prometheus's classic text format, which every Prometheus and every agent reads; what
# `generate_latest` renders whatever the library's newest content type is.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A GET is a few hundred microseconds; a slow list or a write waiting on fsync, milliseconds.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# Group commit takes at most storage.sqlite.MAX_GROUP (256) jobs.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# What a delivery attempt led to (SPEC §7), and why one that did not deliver failed.
ATTEMPT_OUTCOMES = ("delivered", "retry_scheduled", "failed")
ATTEMPT_ERRORS = ("http_status", "timeout", "target_refused", "connection_error")


class PidOnlyProcessCollector(ProcessCollector):
    """The library's process collector (CPU, memory, file descriptors, start time), working
    under systemd's `ProcSubset=pid` too.

    It reads the boot time from /proc/stat once and, without it, reports nothing at all; with
    `ProcSubset=pid` only /proc/<pid> is visible, so the boot time comes from the clocks
    instead (wall clock minus time since boot). tests/test_metrics.py runs it on a /proc
    holding only `self`.
    """

    def _boot_time(self) -> float | None:
        try:
            # The library leaves this method untyped.
            return super()._boot_time()  # type: ignore[no-untyped-call,no-any-return]
        except OSError:
            return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


class ScrapeTimeCollector:
    """Figures the scrape handler reads just before rendering (api/handlers/monitoring.py):

    - the outbox per tenant slug (tenants are few, and a stuck receiver is one tenant's);
    - `reliatic_backup_age_seconds`: `backup_finished_at` is the newest verified backup's
      time, from `monitoring._newest_backup`; while it is None the gauge is left out rather
      than made up.
    """

    def __init__(self) -> None:
        self.pending: Mapping[str, tuple[int, float]] = {}
        self.backup_finished_at: datetime | None = None
        self.now: datetime | None = None

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "reliatic_webhook_outbox_pending",
            "Webhook deliveries waiting to be sent (first attempt or a retry), per tenant.",
            labels=["tenant"],
        )
        age = GaugeMetricFamily(
            "reliatic_webhook_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery, per tenant (0 when none is pending).",
            labels=["tenant"],
        )
        for slug, (pending, oldest) in sorted(self.pending.items()):
            depth.add_metric([slug], pending)
            age.add_metric([slug], oldest)
        yield depth
        yield age
        if self.backup_finished_at is not None and self.now is not None:
            yield GaugeMetricFamily(
                "reliatic_backup_age_seconds",
                "Seconds since the newest verified backup finished.",
                value=max(0.0, (self.now - self.backup_finished_at).total_seconds()),
            )


class _Latency:
    """One route's latency histogram: a count per bucket (not cumulative; the last one is
    +Inf), the sum, and when it was first observed."""

    __slots__ = ("buckets", "created", "total")

    def __init__(self, created: float) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0
        self.created = created


class _Requests:
    """One (method, route, status)'s request count, and its route's latency histogram."""

    __slots__ = ("count", "created", "latency")

    def __init__(self, latency: _Latency, created: float) -> None:
        self.count = 0
        self.created = created
        self.latency = latency

    def observe(self, seconds: float) -> None:
        """One request answered in `seconds`."""
        self.count += 1
        latency = self.latency
        # LATENCY_BUCKETS are upper bounds (`le`): the first bound >= seconds takes it.
        latency.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds


class RequestCounts:
    """`reliatic_http_requests` and `reliatic_http_request_duration_seconds`, counted on the
    event loop (the only thread that answers requests and renders the scrape, so no lock)
    and rendered at scrape time exactly as the library's Counter and Histogram would be:
    `_total`, `_created`, `_bucket{le}`, `_count`, `_sum`."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, str], _Requests] = {}
        self._latency: dict[str, _Latency] = {}

    def cell(self, method: str, route: str, status: str) -> _Requests:
        """The counter of one label set (made on first use), to keep and add to."""
        cell = self._requests.get((method, route, status))
        if cell is None:
            now = time.time()
            latency = self._latency.get(route)
            if latency is None:
                latency = self._latency[route] = _Latency(now)
            cell = self._requests[method, route, status] = _Requests(latency, now)
        return cell

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "reliatic_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            labels=["method", "route", "status"],
        )
        for labels, cell in sorted(self._requests.items()):
            requests.add_metric(list(labels), cell.count, created=cell.created)
        yield requests
        name = "reliatic_http_request_duration_seconds"
        latency = HistogramMetricFamily(
            name,
            "Time from a request entering the server's middleware to its response, by route "
            "template.",
            labels=["route"],
        )
        # The library's own spelling of `le` (what its Histogram would print).
        bounds = [
            floatToGoString(bound)  # type: ignore[no-untyped-call]  # the library's is untyped
            for bound in LATENCY_BUCKETS
        ] + ["+Inf"]
        for route, histogram in sorted(self._latency.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, histogram.buckets, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([route], cumulative, histogram.total)
            latency.add_sample(name + "_created", {"route": route}, histogram.created)
        yield latency


class AppMetrics:
    """Every metric of one app, and the cheap recording calls the request path uses."""

    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        PidOnlyProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self._requests = RequestCounts()
        registry.register(self._requests)
        rate_limited = Counter(
            "reliatic_rate_limited",
            "Requests refused with 429 rate_limited, by the limiter: per key or per address.",
            ["kind"],
            registry=registry,
        )
        self.rate_limited_key = rate_limited.labels("key")
        self.rate_limited_address = rate_limited.labels("address")
        attempts = Counter(
            "reliatic_webhook_attempts",
            "Webhook delivery attempts by what they led to: delivered, retry_scheduled, or "
            "failed (the last retry spent, or 410 Gone).",
            ["outcome"],
            registry=registry,
        )
        self._attempts = {outcome: attempts.labels(outcome) for outcome in ATTEMPT_OUTCOMES}
        errors = Counter(
            "reliatic_webhook_attempt_errors",
            "Webhook delivery attempts that did not deliver, by why: a non-2xx status, a "
            "timeout, a target refused by the address policy, or a connection error.",
            ["reason"],
            registry=registry,
        )
        self._attempt_errors = {reason: errors.labels(reason) for reason in ATTEMPT_ERRORS}
        self._batch = Histogram(
            "reliatic_db_write_batch_size",
            "Jobs (writes) committed together by one group commit of a writer thread.",
            ["database"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self._commit = Histogram(
            "reliatic_db_commit_seconds",
            "Time the COMMIT of one group commit took (the fsync, with synchronous=FULL).",
            ["database"],
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self._failed_commits = Counter(
            "reliatic_db_failed_commits",
            "Group commits that failed (a full or busy disk): each fails all its writes (503).",
            ["database"],
            registry=registry,
        )
        self.at_scrape = ScrapeTimeCollector()
        registry.register(self.at_scrape)
        # (method, route resource, status) -> its counter: a request's one dict lookup.
        self._cells: dict[tuple[str, object, int], _Requests] = {}

    # -- the request path ---------------------------------------------------------------

    def observe_request(
        self, method: str, resource: object, template: str | None, status: int, seconds: float
    ) -> None:
        """Count one answered request. `resource` is aiohttp's matched resource (None when
        nothing matched) and serves as the cache key; `template` its canonical path."""
        key = (method, resource, status)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cell_for(key, template)
        cell.observe(seconds)

    def _cell_for(self, key: tuple[str, object, int], template: str | None) -> _Requests:
        method, resource, status = key
        route = template if resource is not None and template else UNMATCHED
        label = method if method in _METHODS else "other"
        cell = self._requests.cell(label, route, str(status))
        # Bounded: a method outside _METHODS matches no route (aiohttp answers it 405, with
        # no resource), so such keys are never kept.
        if label != "other" or resource is not None:
            self._cells[key] = cell
        return cell

    # -- the scheduler ------------------------------------------------------------------

    def delivery_attempt(self, outcome: str, error: str | None) -> None:
        """One attempt's outcome (ATTEMPT_OUTCOMES) and, if it did not deliver, why."""
        self._attempts[outcome].inc()
        if error is not None:
            self._attempt_errors[error].inc()

    # -- the writer threads -------------------------------------------------------------

    def commit_observer(self, database: str) -> CommitCounter:
        """The callable a `Database` calls after each group commit (`database`: its kind)."""
        return CommitCounter(
            self._batch.labels(database),
            self._commit.labels(database),
            self._failed_commits.labels(database),
        )

    # -- the scrape ---------------------------------------------------------------------

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class CommitCounter:
    """`storage.sqlite.CommitObserver` for one kind of database; thread-safe (the library's
    metrics take a lock), called from the writer threads."""

    __slots__ = ("_batch", "_commit", "_failed")

    def __init__(self, batch: Histogram, commit: Histogram, failed: Counter) -> None:
        self._batch, self._commit, self._failed = batch, commit, failed

    def __call__(self, jobs: int, seconds: float, ok: bool) -> None:
        if ok:
            self._batch.observe(jobs)
            self._commit.observe(seconds)
        else:
            self._failed.inc()
