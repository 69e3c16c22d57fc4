"""Brands: registration (operator), the brand's own view, compromise windows (operator)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import BrandDep, OperatorDep, RuntimeDep, SessionDep
from registry.auth.service import issue_key
from registry.brands import service as brands
from registry.brands.schemas import (
    BrandCreated,
    BrandIn,
    BrandOut,
    CompromiseIn,
    CompromiseOut,
    CompromiseResolvedOut,
    CompromiseWindowOut,
)

router = APIRouter(prefix="/v1/brands", tags=["brands"])


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def create_brand(body: BrandIn, rt: RuntimeDep, s: SessionDep) -> BrandCreated:
    """Registers a brand on chain with its own collection; the API key is shown only in this answer."""
    made = brands.register_brand(
        s, rt.chain, name=body.name, symbol=body.symbol, admin=body.admin_address, contract_uri=body.contract_uri
    )
    key = issue_key(s, made.brand.id)
    return BrandCreated(**BrandOut.of(made.brand, [made.collection]).model_dump(), api_key=key)


@router.get("/me")
def my_brand(brand: BrandDep, s: SessionDep) -> BrandOut:
    return BrandOut.of(brand, brands.collections_of(s, brand.id))


@router.post("/{brand_id}/compromise", dependencies=[OperatorDep])
def compromise(brand_id: str, body: CompromiseIn, rt: RuntimeDep, s: SessionDep) -> CompromiseOut:
    """Operator: the brand's keys were compromised from `since`; its twins minted from then on fail verification."""
    since = body.since if isinstance(body.since, int) else int(body.since.timestamp())
    change = brands.mark_compromised(s, rt.chain, brand_id, since)
    return CompromiseOut(brand=change.brand, compromised_since=since, tx_hash=change.tx_hash)


@router.post("/{brand_id}/compromise/resolve", dependencies=[OperatorDep])
def resolve(brand_id: str, rt: RuntimeDep, s: SessionDep) -> CompromiseResolvedOut:
    """Operator: new keys in place; the compromise window closes now."""
    change = brands.resolve_compromise(s, rt.chain, brand_id)
    windows = [CompromiseWindowOut(start=w.start, end=w.end) for w in change.windows]
    return CompromiseResolvedOut(brand=change.brand, windows=windows, tx_hash=change.tx_hash)
