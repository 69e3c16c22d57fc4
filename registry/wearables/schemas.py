"""Answers about wearables: a collection's Decentraland linked-wearables mapping document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from registry.wearables.dcl import ContractNetwork


class SingleMapping(BaseModel):
    type: Literal["single"]
    id: str = Field(pattern=r"^[0-9]+$")


class RangeMapping(BaseModel):
    type: Literal["range"]
    from_: str = Field(alias="from", pattern=r"^[0-9]+$")
    to: str = Field(pattern=r"^[0-9]+$")


Mapping = SingleMapping | RangeMapping


class LinkedWearables(BaseModel):
    """A Twinmark collection as Decentraland linked wearables (v2)."""

    collection: str
    chain_id: int
    network: ContractNetwork
    tokens: int = Field(description="virtual twins the mappings cover")
    mappings: dict[ContractNetwork, dict[str, list[Mapping]]] = Field(
        description="@dcl/schemas `Mappings`: network -> contract (lower case) -> single/range mappings of the"
        " collection's virtual twins, ready for the linked-wearables collection in Decentraland's Builder"
    )
