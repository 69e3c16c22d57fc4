"""Reading the registry's twins (the index; chain facts are added live)."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from registry.chain.client import RelayState, TwinmarkChain
from registry.chain.layout import status_name
from registry.chain.refusals import movable_from_iso
from registry.errors import NotFound
from registry.ipfs.urls import gateway_url, gateway_urls
from registry.twins.gs1 import digital_link, normalize_gtin
from registry.twins.metadata import referenced_cids
from registry.twins.models import Twin
from registry.twins.schemas import OnChainState, PassportImage, PassportOut, TwinOut, TwinUpdated

# ITwinmarkCollection.TransferPolicy, by value.
TRANSFER_POLICIES = ("open", "gift_only", "locked")


def twin_view(twin: Twin, gateway_base: str, chain: TwinmarkChain | None = None) -> TwinOut:
    """The registry's record of a twin; with `chain`, its live owner and status too."""
    metadata = json.loads(twin.metadata_json)
    on_chain = None
    if chain is not None:
        live = chain.twin(twin.collection, twin.token_id)
        if live is None:
            on_chain = OnChainState(exists=False)
        else:
            policy = TRANSFER_POLICIES[chain.transfer_policy(twin.collection)[0]]
            movable = chain.movable_from(twin.collection, twin.token_id) if policy == "gift_only" else 0
            on_chain = OnChainState(
                exists=True,
                owner=live.owner,
                status=status_name(live.status),
                claimed=live.claimed,
                transfer_policy=policy,
                movable_from=movable_from_iso(movable) or None,
            )
    return TwinOut(
        contract=twin.collection,
        token_id=twin.token_id,
        kind=twin.kind,
        name=twin.name,
        gtin=twin.gtin,
        serial=twin.serial,
        batch_id=twin.batch_id,
        token_uri=twin.token_uri,
        token_url=gateway_url(twin.token_uri, gateway_base),
        metadata_cid=twin.metadata_cid,
        directory_cid=twin.dir_cid,
        tx_hash=twin.tx_hash,
        block_number=twin.block_number,
        metadata=metadata,
        content_urls=gateway_urls(metadata, gateway_base),
        verify_url=f"/v1/verify/{twin.collection}/{twin.token_id}",
        on_chain=on_chain,
    )


def twin_contents(twin: Twin) -> list[str]:
    """The root CIDs the twin needs held: its metadata's root (the batch directory, or the file a
    content update set) and every asset the metadata points at."""
    roots = [twin.token_uri.removeprefix("ipfs://").split("/")[0]]
    roots += [uri.split("/")[0] for uri in referenced_cids(json.loads(twin.metadata_json))]
    return list(dict.fromkeys(roots))


def updated_view(twin: Twin, gateway_base: str, tx_hash: str, state: RelayState) -> TwinUpdated:
    """The answer to a content update: the record (the new content once mined) and the update's transaction."""
    return TwinUpdated(**dict(twin_view(twin, gateway_base)), update_tx_hash=tx_hash, state=state)


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


def passport_view(twin: Twin, base_url: str, gateway_base: str) -> PassportOut:
    """A physical twin's passport as its content publishes it (`twinmark.passport`, EU DPP fields
    under `dpp`), with its identity and links: the `gs1:dpp` target of the GS1 resolver."""
    doc = json.loads(twin.metadata_json)
    passport = doc.get("twinmark", {}).get("passport")
    if twin.kind != "physical" or not isinstance(passport, dict) or twin.gtin is None:
        raise NotFound(f"twin {twin.token_id} in {twin.collection} is not a physical good: it has no passport")
    images = [img for img in passport.get("images", []) if isinstance(img, str)]
    return PassportOut(
        contract=twin.collection,
        token_id=twin.token_id,
        name=twin.name,
        description=doc.get("description", ""),
        brand=doc.get("twinmark", {}).get("brand"),
        gtin=twin.gtin,
        serial=twin.serial,
        lot=twin_lot(twin),
        digital_link=twin_digital_link(twin, base_url),
        passport=passport,
        dpp=passport.get("dpp"),
        images=[PassportImage(ipfs=i, https=f"{gateway_base}/{i.removeprefix('ipfs://')}") for i in images],
        metadata_cid=twin.metadata_cid,
        token_uri=twin.token_uri,
        verify_url=f"{base_url}/v1/verify/{twin.collection}/{twin.token_id}",
    )


def twin_lot(twin: Twin) -> str | None:
    """The lot a physical twin's content names (`twinmark.passport.lot`), if any."""
    lot = json.loads(twin.metadata_json).get("twinmark", {}).get("passport", {}).get("lot")
    return lot if isinstance(lot, str) else None


def twin_digital_link(twin: Twin, base_url: str) -> str:
    """A physical twin's GS1 Digital Link, as its content's `external_url` has it (lot included)."""
    if twin.gtin is None or twin.serial is None:
        raise NotFound(f"twin {twin.token_id} in {twin.collection} has no GTIN and serial: no GS1 Digital Link")
    return digital_link(base_url, twin.gtin, twin.serial, twin_lot(twin))
