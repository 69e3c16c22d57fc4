"""Content updates: the brand replaces a twin's metadata after repair or re-authentication.

The new document goes to IPFS, the token's anchor on chain is replaced (ERC-4906 MetadataUpdate),
and the old anchor stays in the chain's event history.
"""

from __future__ import annotations

from sqlmodel import Session

from registry.assets.service import check_assets
from registry.brands.models import Brand, Collection
from registry.chain.client import RelayState, TwinmarkChain
from registry.errors import InvalidInput, NotFound
from registry.ipfs.store import ContentStore, add_bytes
from registry.pinning import service as pinning
from registry.settings import Settings
from registry.twins import metadata
from registry.twins.models import Twin
from registry.twins.prices import refuse_prices
from registry.twins.schemas import PhysicalTwinIn, VirtualTwinIn, required_assets
from registry.wearables.service import check_garments


def update_content(
    session: Session,
    chain: TwinmarkChain,
    store: ContentStore,
    settings: Settings,
    brand: Brand,
    contract: str,
    token_id: int,
    content: PhysicalTwinIn | VirtualTwinIn,
) -> tuple[Twin, str, RelayState]:
    """The twin (its `tx_hash` stays the mint's), the update's transaction hash and whether it was
    mined within the relay wait. A pending update leaves the record as it is: the indexer applies the
    new content once the chain has it (and nothing, should it revert)."""
    twin = session.get(Twin, (contract, token_id))
    if twin is None or twin.brand_id != brand.id:
        raise NotFound(f"no twin {token_id} in {contract} for this brand")
    if content.kind != twin.kind:
        raise InvalidInput(f"the twin is {twin.kind}; its content cannot become {content.kind}")
    if isinstance(content, PhysicalTwinIn) and (content.gtin, content.serial) != (twin.gtin, twin.serial):
        raise InvalidInput("GTIN and serial identify the item and cannot change")
    collection = session.get(Collection, contract)
    if collection is not None and collection.no_prices:
        refuse_prices(content.model_dump(mode="json", exclude_none=True))
    check_assets(session, brand.id, required_assets([content]))
    if isinstance(content, PhysicalTwinIn):
        doc = metadata.physical(content, brand=brand.name, base_url=settings.base_url)
    else:
        [meets] = check_garments(session, [content.garment("the twin")])
        doc = metadata.virtual(content, brand=brand.name, meets=meets)
    data = metadata.canonical(doc)
    imported = add_bytes(store, data)
    pinning.hold(session, [str(imported.cid), *(uri.split("/")[0] for uri in metadata.referenced_cids(dict(doc)))])
    tx_hash = chain.update_content(contract, token_id, imported.cid.to_bytes())
    state = chain.relay_state(tx_hash)
    if state == "pending":
        return twin, tx_hash, state
    twin.metadata_json = data.decode()
    twin.metadata_cid = str(imported.cid)
    twin.token_uri = f"ipfs://{imported.cid}"
    twin.name = content.name
    return twin, tx_hash, state
