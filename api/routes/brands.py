from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import BrandDep, OperatorDep, RuntimeDep, SessionDep
from registry.brands.service import collections_of, register_brand

router = APIRouter(prefix="/v1/brands", tags=["brands"])


class BrandIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    symbol: str = Field(min_length=2, max_length=11, description="collection symbol, upper-case")
    admin_address: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    contract_uri: str = Field(default="", max_length=500, description="ERC-7572 collection metadata URI")


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def create_brand(body: BrandIn, rt: RuntimeDep, s: SessionDep) -> dict[str, Any]:
    """Registers a brand on chain with its own collection; the API key is shown only in this answer."""
    made = register_brand(
        s, rt.chain, name=body.name, symbol=body.symbol, admin=body.admin_address, contract_uri=body.contract_uri
    )
    return {
        "id": made.brand.id,
        "name": made.brand.name,
        "chain_brand_id": made.brand.chain_brand_id,
        "admin_address": made.brand.admin_address,
        "collections": [
            {"address": made.collection.address, "name": made.collection.name, "symbol": made.collection.symbol}
        ],
        "api_key": made.api_key,
    }


@router.get("/me")
def my_brand(brand: BrandDep, s: SessionDep) -> dict[str, Any]:
    return {
        "id": brand.id,
        "name": brand.name,
        "chain_brand_id": brand.chain_brand_id,
        "admin_address": brand.admin_address,
        "collections": [
            {"address": c.address, "name": c.name, "symbol": c.symbol} for c in collections_of(s, brand.id)
        ],
    }
