"""Rendering panel pages: the jinja2 environment, the headers every page carries, and the
`page` wrapper that signs in, checks the role and the CSRF token, and renders errors as HTML.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from reliatic_appliance.admin.session import Viewer, csrf_matches, viewer_of
from reliatic_appliance.api.handlers.sessions import PANEL
from reliatic_appliance.errors import ApiError, NotFound
from reliatic_appliance.keys import ADMIN_TEMPLATES, CLOCK, SETTINGS, TENANT_DBS
from reliatic_appliance.ports import TenantDb
from reliatic_appliance.services.audit import Who

LOGIN = "/admin/login"
# SPEC §10: nothing but the panel's own files; no inline script or style, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none';"
    " object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show a tenant's keys and users: no shared cache keeps them.
    "Cache-Control": "no-store",
}


def _date(value: str | datetime.date | None) -> str:
    """`2026-03-12` or a timestamp -> `12 Mar 2026`; '—' for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    return f"{value.day} {value:%b %Y}"


def _datetime(value: str | None) -> str:
    """An RFC 3339 UTC timestamp -> `12 Mar 2026, 14:05 UTC`."""
    if not value:
        return "—"
    moment = datetime.datetime.fromisoformat(value)
    return f"{_date(moment.date())}, {moment:%H:%M} UTC"


def _words(value: str | None) -> str:
    """`medium_high` -> `Medium-high`, `ut_scanning` -> `UT scanning`: codes as words."""
    if not value:
        return "—"
    text = value.replace("_", " ")
    for pair in ("medium high", "read only", "read write"):
        text = text.replace(pair, pair.replace(" ", "-"))
    for short in ("ut ", "rbi ", "psv ", "moc ", "api "):
        if text.startswith(short):
            return short.upper() + text[len(short) :]
    return text[:1].upper() + text[1:]


def _plain(value: Any) -> str:
    """A recorded value as a person reads it: lists joined, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


STATIC = PANEL + "static/"


def static_urls() -> dict[str, str]:
    """Each vendored file's URL with a digest of its content (`?v=`): browsers may keep it for
    a year (`cache_static`), and a new release's file has a new URL. Without that, every page
    view would fetch the CSS and scripts again, each one counted against the client
    address's rate limit (SPEC §4)."""
    root = resources.files("reliatic_appliance.admin") / "static"
    urls = {}
    for name in ("panel.css", "panel.js", "favicon.svg", "htmx/htmx.min.js"):
        digest = hashlib.sha256(root.joinpath(name).read_bytes()).hexdigest()[:12]
        urls[name] = f"{STATIC}{name}?v={digest}"
    return urls


async def panel_response(request: web.Request, response: web.StreamResponse) -> None:
    """THE panel's `on_response_prepare`: `cache_static`, then `html_errors`. aiohttp calls it
    for every response; an API request leaves at the first test (one hook, not two, on the
    API's path: issue 16)."""
    if not request.path.startswith(PANEL):
        return
    await cache_static(request, response)
    await html_errors(request, response)


async def cache_static(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: a versioned static file is immutable; every one is nosniff."""
    if request.path.startswith(STATIC):
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.status == 200 and "v" in request.query:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"


# What a person is told when the front door answers a panel request with an error before any
# page ran (the session's CSRF check, the rate limit, an unknown address): status -> words.
_FRONT_DOOR_ERRORS = {
    403: ("This form has expired", "Reload the page and submit the form again."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Not found", "There is nothing at this address."),
    429: ("Too many requests", "Wait a minute, then try again."),
}


async def html_errors(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: under /admin/, an error the API's error path rendered as JSON
    (the middleware answers before any panel view runs) becomes a page, with the panel's
    headers: a person should never meet a JSON body in the browser."""
    if (
        not request.path.startswith(PANEL)
        or request.path.startswith(STATIC)
        or response.status < 400
        or not isinstance(response, web.Response)
        or response.content_type != "application/json"
    ):
        return
    title, message = _FRONT_DOOR_ERRORS.get(
        response.status, ("Something went wrong", "Try again in a moment.")
    )
    if response.status == 413:
        # aiohttp refused the body past `client_max_size` while the front door read the
        # form for its CSRF token: in the panel, an upload (Assets > Import).
        limit = request.app[SETTINGS].server.max_body_bytes
        title = "The file is too large"
        message = (
            f"This server accepts uploads of up to {limit:,} bytes ([server] max_body_bytes)."
            " Nothing was imported. Split the file, or run `reliatic import assets` on the"
            " server."
        )
    if response.status >= 500:
        message += f" If it happens again, quote request id {response.headers.get('X-Request-Id')}."
    text = (
        request.app[ADMIN_TEMPLATES]
        .get_template("error.html")
        .render(
            {
                "path": request.path,
                "notice": None,
                "viewer": None,
                "title": title,
                "message": message,
            }
        )
    )
    body = text.encode()
    # The headers are made but not sent yet: the body and what describes it change together.
    response.body = body
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Length"] = str(len(body))
    response.headers.update(SECURITY_HEADERS)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reliatic_appliance.admin", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(date=_date, datetime=_datetime, words=_words, number=_number, plain=_plain)
    env.globals["static"] = static_urls()
    return env


def html(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    text = (
        request.app[ADMIN_TEMPLATES]
        .get_template(template)
        .render({"path": request.path, "notice": None, **context})
    )
    return web.Response(
        text=text, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


@dataclass
class PageCall:
    """One panel request: the request, who makes it, and its form (on a POST)."""

    request: web.Request
    viewer: Viewer
    form: MultiDictProxy[str | bytes | Any]
    now: datetime.datetime

    @property
    def who(self) -> Who:
        """The signed-in user and their address, as the audit log records acts (SPEC §5)."""
        return Who(self.viewer.principal.actor, self.request.remote)

    async def tenant_db(self) -> TenantDb:
        return await self.request.app[TENANT_DBS].get(self.viewer.principal.tenant_id)

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        return html(self.request, template, {"viewer": self.viewer, **context}, status=status)

    def field(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""


View = Callable[[PageCall], Awaitable[web.StreamResponse]]


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def error_page(
    request: web.Request, viewer: Viewer | None, status: int, title: str, message: str
) -> web.Response:
    context = {"viewer": viewer, "title": title, "message": message}
    return html(request, "error.html", context, status=status)


def page(
    *, admin: bool
) -> Callable[[View], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap a view: sign-in (else 303 to the login page), the role (`admin` pages are 403
    to an engineer, SPEC §10), the CSRF token on every POST (SPEC §4), errors as pages."""

    def wrap(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            viewer = await viewer_of(request)
            if viewer is None:
                raise redirect(LOGIN)
            if admin and not viewer.is_admin:
                return error_page(
                    request,
                    viewer,
                    403,
                    "Not available to your role",
                    "This page is for tenant administrators. Ask one if you need a change.",
                )
            form: MultiDictProxy[Any] = MultiDictProxy(MultiDict(request.query))
            if request.method == "POST":
                form = await request.post()
                token = form.get("csrf_token")
                if not csrf_matches(viewer, token if isinstance(token, str) else None):
                    return error_page(
                        request,
                        viewer,
                        403,
                        "The form has expired",
                        "Go back, reload the page and submit the form again.",
                    )
            call = PageCall(request, viewer, form, request.app[CLOCK]())
            try:
                return await view(call)
            except NotFound:
                return error_page(
                    request, viewer, 404, "Not found", "There is nothing at this address."
                )
            except ApiError as exc:
                return error_page(request, viewer, exc.status, "That did not work", exc.message)

        return handler

    return wrap
