"""The pages before sign-in: login and registration by invitation (SPEC §4, §10). Their
forms post to `/auth/login` and `/auth/register`, which own the session."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.admin.render import html, redirect
from reliatic_appliance.admin.session import viewer_of

# `?error=` codes `/auth/login` redirects back with; anything else shows nothing.
LOGIN_ERRORS = {
    "credentials": "The email or password is not right. Check both and try again.",
    "throttled": "Too many failed sign-ins. Wait a few minutes before you try again.",
    "session": "Your session has ended. Sign in again.",
}
REGISTER_ERRORS = {
    "invitation": (
        "This invitation link is not valid any more. Ask your administrator for a new one."
    ),
    "password": "That password cannot be used. Choose a longer one you do not use elsewhere.",
    "email": "That email address does not match the invitation, or already has an account.",
    "invalid": "Check the form and try again.",
}


async def login_page(request: web.Request) -> web.StreamResponse:
    if await viewer_of(request) is not None:
        raise redirect("/admin/")
    error = LOGIN_ERRORS.get(request.query.get("error", ""))
    return html(
        request,
        "login.html",
        {"viewer": None, "title": "Sign in", "error": error},
        status=200,
    )


async def register_page(request: web.Request) -> web.StreamResponse:
    error = REGISTER_ERRORS.get(request.query.get("error", ""))
    return html(
        request,
        "register.html",
        {
            "viewer": None,
            "title": "Create your account",
            "token": request.query.get("token", "")[:200],
            "error": error,
        },
    )
