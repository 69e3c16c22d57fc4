"""Signing in to the console: the invite (join) and sign-in pages, their passkey ceremonies as JSON
under /console/api, signing out (here or everywhere), the member's own sessions, and how console
refusals are answered (a browser is sent to sign in or shown a readable page; scripts get problems)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from api import errors
from api.console.deps import (
    AdminDep,
    AnalystDep,
    ConsoleCsrfRefused,
    ConsoleRoleRefused,
    ConsoleSignInRequired,
    StaffDep,
    client_network,
    same_origin,
    secure_cookies,
    session_cookie,
)
from api.console.render import render
from api.deps import ChainDep, EngineDep, SettingsDep
from api.server import client_key, trusted_networks
from registry.chain.client import TwinmarkChain
from registry.db.engine import session_scope
from registry.errors import Forbidden, TwinmarkError
from registry.settings import Settings
from registry.siwe.service import NodeCalls
from registry.staff import audit, passkeys, wallets
from registry.staff.models import StaffMember, StaffSession
from registry.staff.passkeys import RelyingParty
from registry.staff.sessions import close_all_sessions, close_session, open_session

router = APIRouter(include_in_schema=False)
HOME = "/console"


class PasskeyOptions(BaseModel):
    """A WebAuthn ceremony's options (`PublicKeyCredential*OptionsJSON`) and the challenge to answer."""

    challenge_id: str
    options: dict[str, Any]


class WalletOptions(BaseModel):
    """The EIP-4361 message the server wrote for the wallet to sign, and its challenge."""

    challenge_id: str
    message: str


class CrossOrigin(Forbidden):
    code, title = "console-cross-origin", "The request did not come from a console page"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this console only (never another site: `//evil`,
    `/\\evil`, `https://evil` and the like all fall back to the console's home)."""
    if not value or len(value) > 500 or not value.startswith("/console") or "\\" in value or "//" in value:
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 for c in value):
        return HOME
    return value


def _client(request: Request, settings: Settings) -> str:
    return client_key(request.scope, trusted_networks(settings.trusted_proxies))


def _same_origin_only(request: Request, settings: Settings) -> None:
    if not same_origin(request, settings):
        raise CrossOrigin("sign in from the console's own pages")


def _signed_in(
    request: Request, settings: Settings, engine: Engine, member: StaffMember, action: str, nxt: str
) -> JSONResponse:
    """A NEW session for `member` (whatever cookie the browser held is ended, never promoted), its cookie."""
    old = request.cookies.get(session_cookie(settings))
    if old:
        close_session(engine, old)
    net = client_network(request, settings)
    opened = open_session(engine, member.id, hours=settings.console_session_hours, network=net, agent=_agent(request))
    with session_scope(engine) as s:
        audit.record_as(s, member.brand_id, member.name, action, staff_id=member.id, network=net)
    response = JSONResponse({"next": nxt})
    response.set_cookie(
        session_cookie(settings),
        opened.cookie,
        max_age=settings.console_session_hours * 3600,
        path="/",
        secure=secure_cookies(settings),
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _agent(request: Request) -> str:
    """A class of user agent, not the string (which identifies a browser far better than it helps)."""
    ua = request.headers.get("user-agent", "").lower()
    browser = next((name for name in ("edg", "chrome", "firefox", "safari") if name in ua), "other")
    system = next((name for name in ("android", "iphone", "ipad", "mac", "windows", "linux") if name in ua), "other")
    return f"{'edge' if browser == 'edg' else browser}/{system}"


# ---------------------------------------------------------------- pages


@router.get("/console/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "sign_in.html", principal=None, next=safe_next(next))


@router.get("/console/join/{invite_id}")
def join_page(request: Request, invite_id: str) -> Response:
    return render(request, "join.html", principal=None, invite_id=invite_id)


# ---------------------------------------------------------------- ceremonies (JSON)


@router.post("/console/api/sign-in/options")
async def sign_in_options(request: Request, engine: EngineDep, settings: SettingsDep) -> PasskeyOptions:
    _same_origin_only(request, settings)
    ceremony = await run_in_threadpool(
        passkeys.begin_sign_in, engine, RelyingParty.of(settings.base_url), client=_client(request, settings)
    )
    return PasskeyOptions(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post("/console/api/sign-in")
async def sign_in(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    challenge_id: Annotated[str, Body(max_length=64)],
    credential: Annotated[dict[str, Any], Body()],
    next: Annotated[str | None, Body()] = None,
) -> JSONResponse:
    _same_origin_only(request, settings)
    member = await run_in_threadpool(
        passkeys.finish_sign_in,
        engine,
        RelyingParty.of(settings.base_url),
        challenge_id,
        credential,
        client=_client(request, settings),
    )
    return await run_in_threadpool(_signed_in, request, settings, engine, member, "session.sign-in", safe_next(next))


@router.post("/console/api/join/{invite_id}/options")
async def join_options(
    request: Request,
    invite_id: str,
    engine: EngineDep,
    settings: SettingsDep,
    secret: Annotated[str, Body(embed=True, max_length=100)],
) -> PasskeyOptions:
    _same_origin_only(request, settings)
    ceremony = await run_in_threadpool(
        passkeys.begin_registration,
        engine,
        RelyingParty.of(settings.base_url),
        invite_id,
        secret,
        client=_client(request, settings),
    )
    return PasskeyOptions(challenge_id=ceremony.challenge_id, options=ceremony.options)


@router.post("/console/api/join/{invite_id}")
async def join(
    request: Request,
    invite_id: str,
    engine: EngineDep,
    settings: SettingsDep,
    secret: Annotated[str, Body(max_length=100)],
    challenge_id: Annotated[str, Body(max_length=64)],
    credential: Annotated[dict[str, Any], Body()],
) -> JSONResponse:
    _same_origin_only(request, settings)
    member = await run_in_threadpool(
        passkeys.finish_registration,
        engine,
        RelyingParty.of(settings.base_url),
        invite_id,
        secret,
        challenge_id,
        credential,
    )
    return await run_in_threadpool(_signed_in, request, settings, engine, member, "session.sign-in", HOME)


# ---------------------------------------------------------------- the brand's admin wallet (SIWE)


def _calls(chain: TwinmarkChain, settings: Settings) -> NodeCalls:
    return NodeCalls(chain, gas=settings.siwe_call_gas)


@router.post("/console/api/sign-in/wallet/options")
async def wallet_options(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    chain: ChainDep,
    address: Annotated[str, Body(embed=True, max_length=64)],
) -> WalletOptions:
    _same_origin_only(request, settings)
    ceremony = await run_in_threadpool(
        wallets.begin, engine, settings, chain.chain_id, address, wallets.SIGN_IN, client=_client(request, settings)
    )
    return WalletOptions(challenge_id=ceremony.challenge_id, message=ceremony.message)


@router.post("/console/api/sign-in/wallet")
async def wallet_sign_in(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    chain: ChainDep,
    challenge_id: Annotated[str, Body(max_length=64)],
    message: Annotated[str, Body(max_length=2000)],
    signature: Annotated[str, Body(max_length=20000)],
    next: Annotated[str | None, Body()] = None,
) -> JSONResponse:
    _same_origin_only(request, settings)
    member = await run_in_threadpool(
        wallets.sign_in,
        engine,
        settings,
        _calls(chain, settings),
        chain.chain_id,
        challenge_id,
        message,
        signature,
        client=_client(request, settings),
    )
    return await run_in_threadpool(
        _signed_in, request, settings, engine, member, "session.sign-in-wallet", safe_next(next)
    )


@router.post("/console/api/wallet/link/options")
async def link_options(
    request: Request,
    me: AdminDep,
    engine: EngineDep,
    settings: SettingsDep,
    chain: ChainDep,
    address: Annotated[str, Body(embed=True, max_length=64)],
) -> WalletOptions:
    ceremony = await run_in_threadpool(
        wallets.begin,
        engine,
        settings,
        chain.chain_id,
        address,
        wallets.LINK,
        client=_client(request, settings),
        staff_id=me.staff_id,
    )
    return WalletOptions(challenge_id=ceremony.challenge_id, message=ceremony.message)


@router.post("/console/api/wallet/link")
def link_wallet(
    request: Request,
    me: AdminDep,
    engine: EngineDep,
    settings: SettingsDep,
    chain: ChainDep,
    challenge_id: Annotated[str, Body(max_length=64)],
    message: Annotated[str, Body(max_length=2000)],
    signature: Annotated[str, Body(max_length=20000)],
) -> dict[str, str]:
    address = wallets.link(
        engine,
        settings,
        _calls(chain, settings),
        chain.chain_id,
        me.brand_id,
        me.staff_id,
        challenge_id,
        message,
        signature,
    )
    with session_scope(engine) as s:
        audit.record(s, me, "staff.wallet-link", target=address, network=client_network(request, settings))
    return {"wallet": address}


# ---------------------------------------------------------------- signing out, own sessions


def _signed_out(settings: Settings) -> RedirectResponse:
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(
        session_cookie(settings), path="/", secure=secure_cookies(settings), httponly=True, samesite="strict"
    )
    return response


@router.post("/console/sign-out")
def sign_out(request: Request, me: AnalystDep, engine: EngineDep, settings: SettingsDep) -> Response:
    close_session(engine, request.cookies.get(session_cookie(settings), ""))
    with session_scope(engine) as s:
        audit.record(s, me, "session.sign-out", network=client_network(request, settings))
    return _signed_out(settings)


@router.post("/console/sign-out/everywhere")
def sign_out_everywhere(request: Request, me: AnalystDep, engine: EngineDep, settings: SettingsDep) -> Response:
    with session_scope(engine) as s:
        ended = close_all_sessions(s, me.staff_id)
        audit.record(s, me, "session.sign-out-everywhere", detail=str(ended), network=client_network(request, settings))
    return _signed_out(settings)


def own_sessions(engine: Engine, staff_id: str) -> list[StaffSession]:
    with session_scope(engine) as s:
        rows = list(
            s.exec(
                select(StaffSession)
                .where(col(StaffSession.staff_id) == staff_id, col(StaffSession.revoked_at).is_(None))
                .order_by(col(StaffSession.last_seen_at).desc())
                .limit(50)
            )
        )
        for row in rows:
            s.expunge(row)
        return rows


@router.get("/console/sessions")
def sessions_page(request: Request, me: StaffDep, engine: EngineDep) -> Response:
    """Any member's own sessions, and "sign out everywhere" (the Security page shows the same to admins)."""
    return render(request, "sessions.html", principal=me, sessions=own_sessions(engine, me.staff_id))


# ---------------------------------------------------------------- refusals


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/console/api/") and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Answers for console refusals (more specific than the app's TwinmarkError handler)."""

    async def as_problem(request: Request, exc: TwinmarkError) -> Response:
        return errors.problem(exc.status, exc.code, exc.title, exc.detail, request, **exc.extra)

    @app.exception_handler(ConsoleSignInRequired)
    async def sign_in_required(request: Request, exc: ConsoleSignInRequired) -> Response:
        if _wants_html(request):
            # A page comes back after signing in; a form posted with a dead session is not replayed.
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            back = safe_next(path) if request.method in ("GET", "HEAD") else HOME
            return RedirectResponse(f"/console/sign-in?next={quote(back, safe='/')}", status_code=303)
        return await as_problem(request, exc)

    @app.exception_handler(ConsoleRoleRefused)
    @app.exception_handler(ConsoleCsrfRefused)
    async def refused(request: Request, exc: TwinmarkError) -> Response:
        if _wants_html(request):
            reason = "common.error.csrf" if isinstance(exc, ConsoleCsrfRefused) else "common.error.role"
            return render(request, "refused.html", principal=None, reason=reason, status_code=403)
        return await as_problem(request, exc)
