"""Who is signed in to the console, and the checks every console route makes: a live session, a role
that includes the one the route needs, and for unsafe methods a CSRF token and a same-origin request.
A refusal of role or CSRF is written to the audit log before the error is answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, SettingsDep
from api.server import client_key, trusted_networks
from registry.errors import Forbidden, Unauthenticated
from registry.scans.privacy import network
from registry.settings import Settings
from registry.staff.audit import record_now
from registry.staff.models import StaffRole
from registry.staff.sessions import StaffPrincipal, csrf_valid, resolve_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


class ConsoleSignInRequired(Unauthenticated):
    """No live console session: HTML requests are sent to the sign-in page, others get a problem."""

    code, title = "console-sign-in-required", "Sign in to the console"


class ConsoleRoleRefused(Forbidden):
    code, title = "console-role-refused", "Your role does not allow this"


class ConsoleCsrfRefused(Forbidden):
    code, title = "console-csrf-refused", "The request did not come from a console page"


def secure_cookies(settings: Settings) -> bool:
    """`Secure` cookies whenever the console is served over https (always in production; tests run
    on plain http on loopback)."""
    return settings.base_url.startswith("https://")


def session_cookie(settings: Settings) -> str:
    # `__Host-`: the browser refuses the cookie unless Secure, host-only and Path=/, so no sibling
    # subdomain can plant or overwrite it.
    return "__Host-tm_console" if secure_cookies(settings) else "tm_console"


def client_network(request: Request, settings: Settings) -> str | None:
    """The caller's truncated network (the address from a proxy the operator trusts, never stored whole)."""
    return network(client_key(request.scope, trusted_networks(settings.trusted_proxies)))


async def current_staff(request: Request, engine: EngineDep, settings: SettingsDep) -> StaffPrincipal:
    cookie = request.cookies.get(session_cookie(settings))
    principal = await run_in_threadpool(resolve_session, engine, cookie, idle_minutes=settings.console_idle_minutes)
    if principal is None:
        raise ConsoleSignInRequired("sign in with your passkey")
    return principal


StaffDep = Annotated[StaffPrincipal, Depends(current_staff)]


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0].lower()}"


def same_origin(request: Request, settings: Settings) -> bool:
    """The browser's own word on where an unsafe request came from (`Origin`, else `Sec-Fetch-Site`;
    a request carrying neither is from no browser, and a CSRF needs a browser)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and _origin(origin) == _origin(settings.base_url)
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def require(role: StaffRole) -> Callable[..., Awaitable[StaffPrincipal]]:
    """A dependency: the signed-in member, if their role includes `role`; for unsafe methods also a
    valid CSRF token (header `X-CSRF-Token`, or the form field `csrf`) and a same-origin request."""

    async def check(request: Request, principal: StaffDep, engine: EngineDep, settings: SettingsDep) -> StaffPrincipal:
        action = f"{request.method} {request.url.path}"
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER)
            if sent is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                value = (await request.form()).get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
            if not csrf_valid(principal, sent) or not same_origin(request, settings):
                await run_in_threadpool(
                    record_now,
                    engine,
                    principal,
                    action,
                    outcome="refused",
                    detail="csrf",
                    network=client_network(request, settings),
                )
                raise ConsoleCsrfRefused("reload the page and try again")
        if not principal.may(role):
            await run_in_threadpool(
                record_now,
                engine,
                principal,
                action,
                outcome="refused",
                detail=f"needs {role.value}",
                network=client_network(request, settings),
            )
            raise ConsoleRoleRefused(f"this needs the {role.value} role; yours is {principal.role.value}")
        return principal

    return check


AnalystDep = Annotated[StaffPrincipal, Depends(require(StaffRole.analyst))]
OperatorDep = Annotated[StaffPrincipal, Depends(require(StaffRole.operator))]
AdminDep = Annotated[StaffPrincipal, Depends(require(StaffRole.admin))]
