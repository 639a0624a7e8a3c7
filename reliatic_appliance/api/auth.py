"""Authentication of a request, and THE permission check (SPEC §4).

Bearer keys only for now; an admin-session cookie path will sit beside `bearer_principal`
(a Bearer header is checked first, then the cookie, else 401).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from aiohttp import web

from reliatic_appliance.domain.permissions import grants
from reliatic_appliance.errors import Forbidden, InvalidApiKey, Unauthorized, Unavailable
from reliatic_appliance.ports import ControlDb
from reliatic_appliance.services import api_keys
from reliatic_appliance.services.api_keys import Principal

log = logging.getLogger(__name__)

_BEARER = re.compile(r"^Bearer +(\S+) *$")


async def bearer_principal(request: web.Request, control: ControlDb, now: datetime) -> Principal:
    """The principal of the request's API key, or 401.

    No header, or not `Bearer <token>`: `unauthorized`. A token that is not a live key
    (unknown, revoked, expired, its tenant disabled, or not even key-shaped): exactly the
    `invalid_api_key` body of SPEC §4, the same for every case so nothing can be probed.
    """
    header = request.headers.get("Authorization")
    if header is None:
        raise Unauthorized()
    match = _BEARER.match(header)
    if match is None:
        raise Unauthorized("Malformed Authorization header: expected 'Bearer <API key>'.")
    token = match[1]
    if not api_keys.KEY_PATTERN.match(token):
        raise InvalidApiKey()
    found = await api_keys.authenticate(control, token, now=now)
    if found is None:
        raise InvalidApiKey()
    principal, stale = found
    if stale:
        try:
            await api_keys.record_use(control, principal.key_id, now=now)
        except Unavailable:
            # Bookkeeping only: a busy control.db must not fail the caller's request.
            log.warning("could not record last_used_at for a key")
    return principal


def require_permission(principal: Principal | None, permission: str) -> Principal:
    """THE permission check: 401 without a principal, 403 naming the missing permission."""
    if principal is None:
        raise Unauthorized()
    if not grants(principal.permissions, permission):
        raise Forbidden(f"API key lacks required permission: {permission}")
    return principal
