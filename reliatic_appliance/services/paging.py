"""What a list asks for and what it gets back, shared by every service's list function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw

if TYPE_CHECKING:
    from reliatic_appliance.storage.sqlite import Database


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


def read_page(
    db: Database,
    fetch: Callable[..., tuple[list[dict[str, Any]], int]],
    page: PageRequest,
    shape: Callable[[apsw.Connection, list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
) -> Page:
    """One page of a list in one read snapshot: `fetch(conn, limit=, offset=)` (a storage
    list function, its filter and sort bound with `functools.partial`) gives the rows and the
    total; `shape` (same snapshot) turns rows into API items, e.g. adds histories."""

    def read(conn: apsw.Connection) -> Page:
        rows, total = fetch(conn, limit=page.per_page, offset=page.offset)
        return Page(items=shape(conn, rows) if shape else rows, total=total, request=page)

    return db.read(read)
