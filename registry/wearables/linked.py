"""Decentraland linked wearables (v2): the mapping document that says which NFTs of a collection
grant its wearables, shaped exactly as @dcl/schemas `Mappings` (network -> contract -> mappings)."""

from __future__ import annotations

from collections.abc import Sequence

from registry.errors import InvalidInput
from registry.wearables import dcl
from registry.wearables.schemas import Mapping, RangeMapping, SingleMapping


def network_for(chain_id: int, override: str | None = None) -> str:
    """Decentraland's name for the chain (ContractNetwork). A chain Decentraland does not list (a
    local test chain) needs `override`, the network the brand will deploy the same collection on."""
    if override is not None:
        if override not in dcl.NETWORKS.values():
            raise InvalidInput(f"network must be one of {', '.join(dcl.NETWORKS.values())}")
        return override
    if chain_id not in dcl.NETWORKS:
        raise InvalidInput(
            f"chain {chain_id} is not a network Decentraland supports; name one with ?network="
            f" ({', '.join(dcl.NETWORKS.values())})"
        )
    return dcl.NETWORKS[chain_id]


def mappings(ranges: Sequence[tuple[int, int]]) -> list[Mapping]:
    """Token ranges (first, last; disjoint) as Decentraland mappings: one token as `single`, a run
    as `range`. Ids are decimal strings, as the schema's pattern `^[0-9]+$` wants."""
    out: list[Mapping] = []
    for first, last in sorted(ranges):
        if first == last:
            out.append(SingleMapping(type="single", id=str(first)))
        else:  # by its wire names: `from` is no Python keyword argument
            out.append(RangeMapping.model_validate({"type": "range", "from": str(first), "to": str(last)}))
    return out


def mapping_document(
    network: str, contract: str, ranges: Sequence[tuple[int, int]]
) -> dict[str, dict[str, list[Mapping]]]:
    """`{network: {contract: [mapping, ...]}}`; the contract in lower case, as Decentraland's
    mappings helper stores and looks it up."""
    return {network: {contract.lower(): mappings(ranges)}}
