"""Request-scoped dependencies: the runtime, a database session, and who is calling (one decision,
`registry.auth.service.identify`, behind one dependency; the others narrow it)."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from registry.auth.service import Caller, identify
from registry.brands.models import Brand
from registry.brands.service import get_brand
from registry.chain.client import TwinmarkChain
from registry.db.engine import session_scope
from registry.errors import DatabaseUnavailable, Forbidden, Unauthenticated
from registry.ipfs.store import ContentStore
from registry.jobs.worker import MintWorker
from registry.runtime import Runtime
from registry.scans.recorder import ScanRecorder
from registry.settings import Settings
from registry.siwe.service import Player, player
from registry.verify.service import Verifier

bearer = HTTPBearer(auto_error=False)


async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(runtime)]


# Narrow dependencies: a route declares the parts it uses, not the whole runtime (the runtime stays
# the one composition root; these only hand out its parts). Coroutines, so that FastAPI resolves them
# on the event loop: a plain function would cost each request a thread-pool hop, on the verifier's
# hot path too.
async def settings(rt: RuntimeDep) -> Settings:
    return rt.settings


async def chain(rt: RuntimeDep) -> TwinmarkChain:
    return rt.chain


async def store(rt: RuntimeDep) -> ContentStore:
    return rt.store


async def verifier(rt: RuntimeDep) -> Verifier:
    return rt.verifier


async def server_key(rt: RuntimeDep) -> str:
    """The server's own secret (HMACs of tickets, cursors and cookies); never the operator's token."""
    return rt.server_key


def verifier_of(request: Request) -> Verifier:
    """The verifier, typed, read without FastAPI's dependency machinery: for `/v1/verify`, whose warm
    answer costs about 90 us of CPU in-process, to which resolving even one dependency adds 25 us."""
    rt: Runtime = request.app.state.runtime
    return rt.verifier


def engine_of(request: Request) -> Engine:
    """The database engine, typed, without a dependency (the hot `/v1/verify`: its caution copy)."""
    rt: Runtime = request.app.state.runtime
    return rt.engine


def settings_of(request: Request) -> Settings:
    """The settings, typed, for helpers called with the request (not routes: they take SettingsDep)."""
    rt: Runtime = request.app.state.runtime
    return rt.settings


async def scan_recorder(rt: RuntimeDep) -> ScanRecorder:
    return rt.scans


SettingsDep = Annotated[Settings, Depends(settings)]
ScanRecorderDep = Annotated[ScanRecorder, Depends(scan_recorder)]
ChainDep = Annotated[TwinmarkChain, Depends(chain)]
StoreDep = Annotated[ContentStore, Depends(store)]
VerifierDep = Annotated[Verifier, Depends(verifier)]
ServerKeyDep = Annotated[str, Depends(server_key)]


@contextmanager
def request_session(engine: Engine) -> Iterator[Session]:
    """A request's transaction: committed when the block ends; a failed commit is a 503 and nothing of
    the request remains."""
    try:
        with session_scope(engine) as s:
            yield s
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(f"the database failed ({type(exc).__name__}); nothing was stored") from None


def session(rt: RuntimeDep) -> Iterator[Session]:
    """The request's transaction. It commits when the route returns and before the answer is sent
    (`scope="function"`): a 2xx, with whatever secret it carries, leaves only after its rows are
    stored."""
    with request_session(rt.engine) as s:
        yield s


SessionDep = Annotated[Session, Depends(session, scope="function")]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def operator(rt: RuntimeDep, credentials: Credentials) -> None:
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), rt.operator_token.encode()):
        raise Unauthenticated("operator token required (Authorization: Bearer <token>)")


def optional_caller(s: SessionDep, credentials: Credentials) -> Caller | None:
    """The caller, if the request carries a key (routes that also serve anonymous signed requests)."""
    return None if credentials is None else identify(s, credentials.credentials)


def caller(found: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if found is None:
        raise Unauthenticated("API key required (Authorization: Bearer tmk_...)")
    return found


CallerDep = Annotated[Caller, Depends(caller)]


@dataclass(frozen=True)
class BrandCaller:
    """A brand acting through its own key (not a provider's or a partner's)."""

    brand: Brand
    caller: Caller


def brand_caller(c: CallerDep, s: SessionDep) -> BrandCaller:
    if c.partner is not None:
        raise Unauthenticated("invalid API key")
    if c.provider_id is not None:
        raise Forbidden("a service provider's key cannot act for the brand")
    assert c.brand_id is not None
    return BrandCaller(get_brand(s, c.brand_id), c)


def brand_caller_of(s: Session, credentials: HTTPAuthorizationCredentials | None) -> BrandCaller:
    """`brand_caller` called directly, for a route that does all its work in one thread hand-off (each
    sync dependency is one more: a thread-pool round trip per request, waiting for the GIL twice)."""
    return brand_caller(caller(optional_caller(s, credentials)), s)


def brand(b: Annotated[BrandCaller, Depends(brand_caller)]) -> Brand:
    return b.brand


def provider_caller(c: CallerDep) -> Caller:
    if c.partner is not None:
        raise Unauthenticated("invalid API key")
    if c.provider_id is None:
        raise Forbidden("a service provider's API key is required")
    return c


OperatorDep = Depends(operator)
BrandDep = Annotated[Brand, Depends(brand)]
BrandCallerDep = Annotated[BrandCaller, Depends(brand_caller)]
ProviderDep = Annotated[Caller, Depends(provider_caller)]
OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
# FastAPI declares every bearer dependency as required: a route taking `OptionalCallerDep` also passes
# `openapi_extra=KEY_OPTIONAL`, which adds the anonymous alternative (`{}`) to its `security`.
KEY_OPTIONAL: dict[str, Any] = {"security": [{}]}


def signed_in_player(s: SessionDep, credentials: Credentials) -> Player:
    """The player whose Sign-In with Ethereum session token (`Bearer tms_...`) the request carries."""
    if credentials is None:
        raise Unauthenticated("a player session token is required (Authorization: Bearer tms_...)")
    return player(s, credentials.credentials)


PlayerDep = Annotated[Player, Depends(signed_in_player)]


async def mint_worker(rt: RuntimeDep) -> MintWorker:
    """The mint worker, for a route to wake it once a job is stored."""
    return rt.worker


MintWorkerDep = Annotated[MintWorker, Depends(mint_worker)]


async def engine(rt: RuntimeDep) -> Engine:
    """The database engine, for a route that opens its own short transactions (a long-lived stream
    must not hold the request's one open for its whole life)."""
    return rt.engine


async def public_rpc_url(rt: RuntimeDep) -> str:
    """The RPC URL a public page may hand its readers: only one the operator named public (a configured
    chain RPC URL often carries the provider's API key), or the embedded local chain's; else none."""
    if rt.settings.public_rpc_url:
        return rt.settings.public_rpc_url
    return rt.anvil.url if rt.anvil is not None else ""


EngineDep = Annotated[Engine, Depends(engine)]
PublicRpcUrlDep = Annotated[str, Depends(public_rpc_url)]
