"""Every typed key for app and request state, and nothing else.

The application's state lives on these keys, set up by `create_app` and torn down by its
cleanup contexts; no module keeps mutable state of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from reliatic_appliance.api.access_log import AccessLog
from reliatic_appliance.api.inflight import InFlight
from reliatic_appliance.api.ratelimit import FixedWindowLimiter, RateDecision
from reliatic_appliance.api.request_ids import RequestIds
from reliatic_appliance.metrics import AppMetrics
from reliatic_appliance.ports import ControlDb, TenantDirectory
from reliatic_appliance.scheduler.runner import Scheduler
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services.api_keys import Principal
from reliatic_appliance.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CONTROL_DB: web.AppKey[ControlDb] = web.AppKey("control_db")
TENANT_DBS: web.AppKey[TenantDirectory] = web.AppKey("tenant_dbs")
KEY_LIMITER = web.AppKey("key_limiter", FixedWindowLimiter)
ADDRESS_LIMITER = web.AppKey("address_limiter", FixedWindowLimiter)
OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
REQUEST_IDS = web.AppKey("request_ids", RequestIds)
ACCESS_LOG = web.AppKey("access_log", AccessLog)
SCHEDULER = web.AppKey("scheduler", Scheduler)
# Idempotency-Keys whose first request is running (api/idempotency.py).
IDEMPOTENCY_INFLIGHT = web.AppKey("idempotency_inflight", InFlight)
# This app's Prometheus registry and metrics (GET /metrics); never the library's global one.
METRICS = web.AppKey("metrics", AppMetrics)
# Every "now" of the app comes from here, so tests can move time instead of sleeping.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")

# Per-request values: set by the middlewares, read by handlers and the access log.
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
RATE_DECISION = web.RequestKey("rate_decision", RateDecision)
