"""Reading the registry's twins (the index; chain facts are added live)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from registry.chain.client import TwinmarkChain
from registry.chain.layout import status_name
from registry.errors import NotFound
from registry.twins.gs1 import normalize_gtin
from registry.twins.models import Twin


def twin_view(twin: Twin, chain: TwinmarkChain | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "contract": twin.collection,
        "token_id": twin.token_id,
        "kind": twin.kind,
        "name": twin.name,
        "gtin": twin.gtin,
        "serial": twin.serial,
        "batch_id": twin.batch_id,
        "token_uri": twin.token_uri,
        "metadata_cid": twin.metadata_cid,
        "directory_cid": twin.dir_cid,
        "tx_hash": twin.tx_hash,
        "block_number": twin.block_number,
        "metadata": json.loads(twin.metadata_json),
        "verify_url": f"/v1/verify/{twin.collection}/{twin.token_id}",
    }
    if chain is not None:
        live = chain.twin(twin.collection, twin.token_id)
        view["on_chain"] = (
            {"exists": False}
            if live is None
            else {"exists": True, "owner": live.owner, "status": status_name(live.status), "claimed": live.claimed}
        )
    return view


def get_twin(session: Session, contract: str, token_id: int) -> Twin:
    twin = session.exec(select(Twin).where(Twin.collection == contract, Twin.token_id == token_id)).first()
    if twin is None:
        raise NotFound(f"no twin {token_id} in {contract}")
    return twin


def find_twins(session: Session, gtin: str, serial: str | None) -> list[Twin]:
    query = select(Twin).where(Twin.gtin == normalize_gtin(gtin))
    if serial is not None:
        query = query.where(Twin.serial == serial)
    return list(session.exec(query.limit(1000)))
