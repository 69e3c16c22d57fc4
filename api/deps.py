"""Request-scoped dependencies: the runtime, a database session, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from registry.brands.models import Brand
from registry.brands.service import Principal, authenticate
from registry.db.engine import session_scope
from registry.errors import Forbidden, Unauthenticated
from registry.runtime import Runtime

bearer = HTTPBearer(auto_error=False)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def session(rt: RuntimeDep) -> Iterator[Session]:
    with session_scope(rt.engine) as s:
        yield s


SessionDep = Annotated[Session, Depends(session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def operator(rt: RuntimeDep, credentials: Credentials) -> None:
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), rt.operator_token.encode()):
        raise Unauthenticated("operator token required (Authorization: Bearer <token>)")


def principal(s: SessionDep, credentials: Credentials) -> Principal:
    if credentials is None:
        raise Unauthenticated("API key required (Authorization: Bearer tmk_...)")
    return authenticate(s, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(principal)]


def brand_principal(p: PrincipalDep) -> Principal:
    if p.provider is not None:
        raise Forbidden("a service provider's key cannot act for the brand")
    return p


def brand(p: Annotated[Principal, Depends(brand_principal)]) -> Brand:
    return p.brand


def provider_principal(p: PrincipalDep) -> Principal:
    if p.provider is None:
        raise Forbidden("a service provider's API key is required")
    return p


OperatorDep = Depends(operator)
BrandDep = Annotated[Brand, Depends(brand)]
BrandPrincipalDep = Annotated[Principal, Depends(brand_principal)]
ProviderDep = Annotated[Principal, Depends(provider_principal)]
