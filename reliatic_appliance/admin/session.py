"""Who is looking at a panel page: the session's user, role and CSRF token (SPEC §4).

The one place the panel meets the session machinery of api/auth (cookie, CSRF); every
page reaches it through `viewer_of`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from reliatic_appliance.services.api_keys import Principal

ADMIN = "admin"
ENGINEER = "engineer"


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    user_id: str
    email: str
    role: str
    csrf_token: str
    tenant_name: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


async def viewer_of(request: web.Request) -> Viewer | None:
    """The signed-in user of `request`, or None (no session, or an ended one)."""
    return None


def csrf_matches(viewer: Viewer, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(viewer.csrf_token, submitted)
