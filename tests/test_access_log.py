"""The access log (api/access_log.py): batched when our JSON handler is the only way out,
through `logging` otherwise, and the same JSON line either way."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from reliatic_appliance.api.access_log import AccessLog
from reliatic_appliance.logs import (
    JsonFormatter,
    RequestContext,
    encode,
    json_line,
    redact,
    request_context,
)

FIELDS = {"method": "GET", "path": "/api/v1/assets", "status": 200, "remote": "127.0.0.1"}


@pytest.fixture
def json_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger tree like configure_logging's: one JSON stream handler at its top. Built
    outside logging's registry, so pytest's own capture handlers never join it."""
    top = logging.Logger("access-log-test", logging.INFO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    top.addHandler(handler)
    top.propagate = False
    access = logging.Logger("access-log-test.access")
    access.parent = top
    yield access, stream


async def test_lines_of_one_loop_iteration_are_written_together(
    json_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_logger
    access = AccessLog(logger)
    token = request_context.set(RequestContext("req-1"))
    try:
        access.record({**FIELDS, "status": 200})
        access.record({**FIELDS, "status": 404})
    finally:
        request_context.reset(token)
    assert stream.getvalue() == ""  # not yet: written once the loop comes round
    await asyncio.sleep(0)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["status"] for line in lines] == [200, 404]
    assert lines[0]["request_id"] == "req-1" and lines[0]["logger"] == logger.name
    assert lines[0]["ts"].endswith("Z") and lines[0]["level"] == "info"


async def test_a_batched_line_is_the_line_logging_would_write(
    json_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_logger
    AccessLog(logger).record(FIELDS)
    await asyncio.sleep(0)
    logger.info("request", extra={"fields": FIELDS})
    batched, logged = (json.loads(line) for line in stream.getvalue().splitlines())
    batched.pop("ts"), logged.pop("ts")
    assert batched == logged
    assert list(batched) == list(logged)


async def test_other_handlers_get_records_through_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    access = AccessLog(logging.getLogger("reliatic.access"))
    with caplog.at_level(logging.INFO, logger="reliatic.access"):
        access.record(FIELDS)
    [record] = [r for r in caplog.records if r.name == "reliatic.access"]
    assert record.fields == FIELDS  # type: ignore[attr-defined]


async def test_nothing_is_written_below_the_logger_level(
    json_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_logger
    logger.setLevel(logging.WARNING)
    try:
        AccessLog(logger).record(FIELDS)
        await asyncio.sleep(0)
    finally:
        logger.setLevel(logging.NOTSET)
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        ("request", "request"),  # a bare word: the fast path, unchanged
        ("Ünïcode", "Ünïcode"),
        ("rl_live_" + "A" * 40, "[redacted]"),
        ("key rl_live_abcDEF123_-x was used", "key [redacted] was used"),
        ("whsec_c2VjcmV0", "[redacted]"),
        ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
        ("bearer\tXYZ", "[redacted]"),
        ("Bearer", "Bearer"),  # no token after it: nothing to hide
    ],
)
def test_every_line_is_redacted_of_keys_secrets_and_tokens(message: str, logged: str) -> None:
    assert redact(message) == logged
    line = json.loads(
        encode(
            json_line("2026-01-01T00:00:00.000Z", logging.INFO, "t", message), 20, journald=False
        )
    )
    assert line["msg"] == logged and line["level"] == "info"
