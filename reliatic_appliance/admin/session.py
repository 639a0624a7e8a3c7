"""Who is looking at a panel page: the session's user, role and CSRF token (SPEC §4).

The one place the panel meets the session machinery of api/auth (cookie, CSRF); every
page reaches it through `viewer_of`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from reliatic_appliance.api.auth import current_session
from reliatic_appliance.keys import CONTROL_DB, PRINCIPAL
from reliatic_appliance.services import tenants
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
    """The signed-in user of `request`, or None (no session, or an ended one).

    The front door's guard has already looked the cookie up (api/auth.py) and, for a
    state-changing request, checked its CSRF token; a Bearer key is no sign-in here.
    """
    session = current_session(request)
    principal = request.get(PRINCIPAL)
    if session is None or principal is None or principal.user_id != session.user_id:
        return None
    tenant = await tenants.get_tenant(request.app[CONTROL_DB], session.tenant_slug)
    return Viewer(
        principal=principal,
        user_id=session.user_id,
        email=session.email,
        role=session.role,
        csrf_token=session.csrf_token,
        tenant_name=tenant.get("name") or session.tenant_slug,
    )


def csrf_matches(viewer: Viewer, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(viewer.csrf_token, submitted)
