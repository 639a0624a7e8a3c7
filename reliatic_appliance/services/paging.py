"""What a list asks for and what it gets back, shared by every service's list function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.request.per_page)
