"""What a list asks for and what it gets back, shared by every service's list function."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

TxT = TypeVar("TxT")
TxT_co = TypeVar("TxT_co", covariant=True)
T = TypeVar("T")


class Reader(Protocol[TxT_co]):
    """A database that runs a unit of work in one read snapshot: a TenantDb (its tx a
    TenantTx) or the ControlDb (a ControlTx)."""

    def read(self, fn: Callable[[TxT_co], T], *, snapshot: bool = True) -> Awaitable[T]: ...


# (tx, limit, offset) -> (rows of the page, the list's total): a store's list method with
# its filter and sort bound.
Fetch = Callable[[TxT, int, int], tuple[list[dict[str, Any]], int]]


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 25
    # Keyset cursor (`after`): the page then starts after that row instead of at 0.
    after: str | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    request: PageRequest
    # With `after`: the cursor of the following page, None on the last one.
    next_after: str | None = None
    # Instead of `items`: the items as JSON text, already serialised by SQLite (assets).
    items_json: list[str] | None = None

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.request.per_page)


async def read_page(
    db: Reader[TxT],
    fetch: Fetch[TxT],
    page: PageRequest,
    shape: Callable[[TxT, list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
) -> Page:
    """One page of a list in one read snapshot: `fetch` gives the rows and the total;
    `shape` (same snapshot) turns rows into API items, e.g. adds histories."""

    def read(tx: TxT) -> Page:
        rows, total = fetch(tx, page.per_page, page.offset)
        return Page(items=shape(tx, rows) if shape else rows, total=total, request=page)

    return await db.read(read)
