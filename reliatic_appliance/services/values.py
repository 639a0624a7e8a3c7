"""Request values as storage wants them: dates become `YYYY-MM-DD` text."""

from __future__ import annotations

import datetime
from typing import Any


def to_storage(values: dict[str, Any]) -> dict[str, Any]:
    """Dates (and datetimes) as ISO text; everything else is already a SQLite value."""
    return {
        key: value.isoformat() if isinstance(value, datetime.date) else value
        for key, value in values.items()
    }
