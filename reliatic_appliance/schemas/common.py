"""Shared pydantic building blocks: strict input config, text types, envelopes, errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
)
from pydantic_core import core_schema

from reliatic_appliance.timefmt import format_ts

# Request bodies: unknown fields, wrong JSON types, NaN/Infinity are all errors (SPEC §3).
STRICT_INPUT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
# Query strings arrive as text, so they are parsed leniently ("2" -> 2), but still closed.
QUERY_INPUT = ConfigDict(extra="forbid", allow_inf_nan=False)

# Text with no control characters at all (identifiers, names, one-line fields).
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
# Free text may hold line breaks and tabs, nothing else below 0x20.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NO_CONTROL)]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=_NO_CONTROL)]
LongText = Annotated[str, StringConstraints(max_length=10_000, pattern=_TEXT)]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NO_CONTROL)]

Timestamp = Annotated[
    str,
    Field(
        description="ISO 8601 UTC timestamp with Z",
        json_schema_extra={"format": "date-time"},
        examples=["2026-04-01T12:00:00.000000Z"],
    ),
]
DateText = Annotated[str, Field(json_schema_extra={"format": "date"}, examples=["2026-04-01"])]

# Input dates and times in ISO 8601 text only (SPEC §3). Left alone, pydantic reads a string
# of digits as a Unix time, even in strict mode: "0" would be accepted as 1970-01-01. The
# text is parsed here (so strict mode then sees a date, not a string).
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ISO_DATE_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _iso_text(pattern: re.Pattern[str], parse: Callable[[str], Any], message: str) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            if pattern.match(value):
                return parse(value)
        except ValueError:
            pass
        raise ValueError(message)

    return BeforeValidator(check)


IsoDate = Annotated[
    dt.date, _iso_text(_ISO_DATE, dt.date.fromisoformat, "must be a date as YYYY-MM-DD")
]
IsoDateTime = Annotated[
    dt.datetime,
    _iso_text(
        _ISO_DATE_TIME,
        dt.datetime.fromisoformat,
        "must be an ISO 8601 date and time, e.g. 2026-04-01T12:00:00Z",
    ),
]

# An id of another row of the tenant, in a body or a filter (checked to exist by the
# service). Ids are opaque (SPEC §3), but never empty, long or full of odd characters.
ResourceId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
    Field(examples=["ast_01JQ8Z6X4M0000000000000000"]),
]

T = TypeVar("T")


class SingleMeta(BaseModel):
    timestamp: Timestamp


class ListMeta(BaseModel):
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)
    total: int = Field(ge=0)
    total_pages: int = Field(ge=0)


class Single(BaseModel, Generic[T]):
    """`{"data": {...}, "meta": {"timestamp": ...}}`."""

    data: T
    meta: SingleMeta


class Collection(BaseModel, Generic[T]):
    """`{"data": [...], "meta": {"page", "per_page", "total", "total_pages"}}`."""

    data: list[T]
    meta: ListMeta


def single_of(model: type[BaseModel]) -> type[BaseModel]:
    """`Single[model]` for a model known only at run time (a resource's declaration)."""
    return Single[model]  # type: ignore[valid-type]  # mypy: a variable is not a type


def collection_of(model: type[BaseModel]) -> type[BaseModel]:
    """`Collection[model]` for a model known only at run time."""
    return Collection[model]  # type: ignore[valid-type]  # mypy: a variable is not a type


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    """Every error response (SPEC §3)."""

    error: str = Field(examples=["validation_error"])
    message: str
    details: list[dict[str, Any]]


def _normalise_since(value: str) -> str:
    """Parse ISO 8601 (naive means UTC) into the stored fixed-width form."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date or time, e.g. 2026-04-01T12:00:00Z") from None
    return format_ts(moment)


SinceTimestamp = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_normalise_since),
    Field(json_schema_extra={"format": "date-time"}),
]


class PageOnlyQuery(BaseModel):
    """Pagination parameters (SPEC §3)."""

    model_config = QUERY_INPUT

    page: int = Field(1, ge=1, le=1_000_000, description="Page number, from 1.")
    per_page: int = Field(25, ge=1, le=100, description="Items per page, 1..100.")


class PageQuery(PageOnlyQuery):
    """Pagination and the sync filter every resource list takes (SPEC §3)."""

    updated_since: SinceTimestamp | None = Field(
        None, description="Only items updated at or after this ISO 8601 time."
    )


Cursor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$"),
    Field(examples=["ast_01JQ8Z6X4M0000000000000000"]),
]


class CursorPageQuery(PageQuery):
    """Pagination with a keyset cursor beside `page`, for lists that grow large."""

    after: Cursor | None = Field(
        None,
        description=(
            "Keyset cursor: only items that come after this one in the list's order. Pass"
            " the `id` of the last item you received; then follow the `next` URL of the"
            " `Link` header, whose cursor also carries that item's sort value, so that with"
            " `sort` an item changing meanwhile cannot make you skip or repeat others. Every"
            " page costs the same however deep: use it to walk a whole list. `page` then"
            " counts from the cursor; `total` and `total_pages` still describe the whole"
            " filtered list; the `Link` header has `first` and, unless this is the last"
            " page, `next`."
        ),
    )


class HealthStatus(BaseModel):
    status: str = Field(examples=["ok"])


def sort_values(fields: tuple[str, ...]) -> tuple[str, ...]:
    """Allowed `sort` values for a resource: each field, ascending or with `-` descending."""
    return tuple(f"{prefix}{field}" for field in fields for prefix in ("", "-"))


@dataclass(frozen=True)
class OneOf:
    """`Annotated[str, OneOf(values)]`: text that must be one of `values`.

    Validated and documented exactly as `Literal` of those values would be (the same error
    message, the same `enum` in OpenAPI), while the type stays `str`: a `Literal` built from a
    computed tuple is not a type mypy can check. For closed sets computed from other data,
    such as the `sort` values of a list (`sort_values`); a closed set of the domain is a
    `StrEnum` and is used as the field's type instead.
    """

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.literal_schema(list(self.values))


class HistoryEntry(BaseModel):
    """One status change, oldest first in `history`; the first entry is the creation."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from", description="Previous status; null at creation.")
    to: str = Field(description="New status.")
    comment: str | None
    at: Timestamp
    by: str | None = Field(description="The API key id (or user) that made the change.")
