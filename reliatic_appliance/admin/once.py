"""Secrets shown exactly once, across a POST/redirect/GET (SPEC §4, §10).

A form that makes a key, a webhook secret or an invitation answers with a redirect, as every
panel form does; the page it redirects to shows the secret. The secret waits here, in this
process's memory only, for that one GET: `take` removes it, so a reload shows it no more.
It is bound to the user who made it and expires after a few minutes if never fetched.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

TTL = timedelta(minutes=5)
# Bounds memory however many forms are posted and never followed.
MAX_WAITING = 1000


@dataclass(frozen=True)
class _Waiting:
    owner: str
    payload: dict[str, Any]
    expires: datetime


class OneTimeSecrets:
    def __init__(self, *, ttl: timedelta = TTL, max_waiting: int = MAX_WAITING) -> None:
        self._ttl = ttl
        self._max = max_waiting
        self._waiting: OrderedDict[str, _Waiting] = OrderedDict()

    def put(self, owner: str, payload: dict[str, Any], *, now: datetime) -> str:
        """Keep `payload` for `owner`; the returned token fetches it once."""
        while len(self._waiting) >= self._max:
            self._waiting.popitem(last=False)
        token = secrets.token_urlsafe(24)
        self._waiting[token] = _Waiting(owner, payload, now + self._ttl)
        return token

    def take(self, owner: str, token: str, *, now: datetime) -> dict[str, Any] | None:
        """The payload, removed; None when unknown, taken, expired or someone else's."""
        waiting = self._waiting.get(token)
        if waiting is None or waiting.owner != owner:
            return None
        del self._waiting[token]
        return waiting.payload if waiting.expires > now else None
