"""A player's wearables: the twins an address owns, from the index (one range of
`ix_twins_owner_collection_token` per page), in (collection, token id) order with opaque cursors; the
block the index is valid at; optionally re-checked at the chain head (`registry.wardrobe.fresh`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select
from web3 import Web3

from registry.assets import service as assets_service
from registry.assets.models import Asset
from registry.brands.models import Brand
from registry.chain.layout import status_name
from registry.chain.node_reads import NodeReads
from registry.db import ratelimit
from registry.db.ratelimit import Limit
from registry.indexer.models import IndexCursor
from registry.twins.models import Twin
from registry.wardrobe import cursor as cursors
from registry.wardrobe.fresh import at_head
from registry.wardrobe.items import Files, category_of, item, referenced
from registry.wardrobe.schemas import Block, FreshCheck, Moved, WardrobeItem, WardrobePage

MAX_LIMIT = 100
SCAN_BUDGET = 500  # rows a filtered page examines at most (see `listing`)


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    collection: str | None = None  # checksummed
    brand: str | None = None  # the brand's id
    category: str | None = None

    def scope(self, owner: str) -> str:
        """What a cursor is bound to: the owner and the filters."""
        return json.dumps([owner.lower(), self.kind, (self.collection or "").lower(), self.brand, self.category])


def valid_at(session: Session, chain_id: int) -> tuple[int, str | None]:
    """The last block the index holds (and its hash), as the indexer's cursor says."""
    found = session.get(IndexCursor, chain_id)
    if found is None or found.next_block == 0:
        return 0, None
    return found.next_block - 1, found.last_hash


def _files(session: Session, cids: set[str]) -> Files:
    """Sizes and media types from the uploads; glTF counts where the assets service keeps them."""
    files: Files = {}
    if not cids:
        return files
    for asset in session.exec(select(Asset).where(col(Asset.cid).in_(cids))):
        files.setdefault(asset.cid, {"size": asset.size, "media_type": asset.media_type})
    stats = getattr(assets_service, "asset_stats", None)  # issue 14's glTF Validator counts, once present
    if callable(stats):
        for cid, counts in stats(session, sorted(cids)).items():
            files.setdefault(cid, {}).update(counts)
    return files


def _matches(twin: Twin, meta: dict[str, Any], filters: Filters) -> bool:
    """The filters no index serves, applied to a scanned row (the category as the item shows it)."""
    if filters.kind is not None and twin.kind != filters.kind:
        return False
    if filters.brand is not None and twin.brand_id != filters.brand:
        return False
    return filters.category is None or category_of(meta) == filters.category


def _metadata_of(twin: Twin) -> dict[str, Any]:
    """The twin's indexed metadata document: free-form JSON as its brand published it (read defensively
    by `registry.wardrobe.items`); anything but an object reads as empty."""
    try:
        meta = json.loads(twin.metadata_json)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _item_or_bare(
    twin: Twin, meta: dict[str, Any], gateway_base: str, files: Files, brand_name: str | None
) -> WardrobeItem:
    """The item from its metadata; when the indexed metadata cannot make one (a malformed document),
    the item from the twin's own columns only, marked `malformed`: one bad twin never fails a page."""
    try:
        return item(twin, meta, gateway_base, files, brand_name)
    except (ValueError, TypeError, KeyError, AttributeError):  # pydantic's ValidationError is a ValueError
        return item(twin, {}, gateway_base, {}, brand_name).model_copy(update={"malformed": True})


def listing(
    session: Session,
    *,
    chain_id: int,
    gateway_base: str,
    cursor_key: str,
    owner: str,
    filters: Filters,
    limit: int,
    cursor: str | None,
) -> WardrobePage:
    """One page (without `fresh`: see `recheck`).

    Owner (and collection) are read through the index; kind, brand and category are checked on the
    rows as they come, and at most `SCAN_BUDGET` rows are examined per page: the custodian owns every
    unclaimed twin, and a filter matching none of them must not read them all in one request. A page
    whose scan stopped at the budget may hold fewer than `limit` items (even none) and still carry a
    `next_cursor`, from where the scan stopped."""
    owner = Web3.to_checksum_address(owner)
    scope = filters.scope(owner)
    query = select(Twin).where(col(Twin.owner) == owner, col(Twin.burned).is_(False))
    if filters.collection is not None:
        query = query.where(col(Twin.collection) == filters.collection)
    if cursor is not None:
        after_collection, after_token = cursors.decode(cursor_key, scope, cursor)
        query = query.where(
            or_(
                col(Twin.collection) > after_collection,
                and_(col(Twin.collection) == after_collection, col(Twin.token_id) > after_token),
            )
        )
    filtered = filters.kind is not None or filters.brand is not None or filters.category is not None
    number, block_hash = valid_at(session, chain_id)  # read before the rows: the answer is at least this current
    scan = SCAN_BUDGET if filtered else limit + 1
    rows = list(session.exec(query.order_by(col(Twin.collection), col(Twin.token_id)).limit(scan)))
    page: list[Twin] = []
    metas: list[dict[str, Any]] = []
    resume: Twin | None = None  # the row the next page starts after
    for row in rows:
        meta = _metadata_of(row)
        if not _matches(row, meta, filters):
            continue
        if len(page) == limit:  # one match more than the page holds: there is a next page
            resume = page[-1]
            break
        page.append(row)
        metas.append(meta)
    else:
        if filtered and len(rows) == scan:  # the budget ran out, perhaps before the owner's rows did
            resume = rows[-1]
    files = _files(session, {cid for m in metas for cid in referenced(m)})
    brand_ids = {t.brand_id for t in page if t.brand_id is not None}
    names = {b.id: b.name for b in session.exec(select(Brand).where(col(Brand.id).in_(brand_ids)))} if brand_ids else {}
    return WardrobePage(
        owner=owner,
        valid_at=Block(number=number, hash=block_hash),
        items=[
            _item_or_bare(t, m, gateway_base, files, names.get(t.brand_id) if t.brand_id else None)
            for t, m in zip(page, metas, strict=True)
        ],
        next_cursor=None if resume is None else cursors.encode(cursor_key, scope, resume.collection, resume.token_id),
    )


def fresh_quota(session: Session, per_minute: int, caller: str, ceiling: int | None = None) -> None:
    """Counts one `fresh=true` listing for `caller` (a signed-in player's address, or a client
    address); 429 past its minute's quota: each costs a head read and a report per item at the node."""
    limit = Limit("wardrobe-fresh:caller", per_minute, timedelta(minutes=1), "fresh (chain head) listings", ceiling)
    ratelimit.hit(session, [(limit, caller)])


def recheck(chain: NodeReads, page: WardrobePage) -> WardrobePage:
    """`page` with its items re-checked at the chain head: the ones another address holds there (or
    destroyed) are dropped and listed under `fresh.moved`; the others take the head's status."""
    number, block_hash, reports = at_head(chain, [(i.contract, i.token_id) for i in page.items])
    kept, moved = [], []
    for entry in page.items:
        twin = reports[(entry.contract, entry.token_id)].twin
        if twin is None or twin.owner.lower() != page.owner.lower():
            owner = twin.owner if twin is not None else None
            moved.append(Moved(contract=entry.contract, token_id=entry.token_id, chain_owner=owner))
            continue
        status = status_name(twin.status)
        kept.append(entry.model_copy(update={"status": status, "stolen": status == "stolen"}))
    fresh = FreshCheck(head=Block(number=number, hash=block_hash), moved=moved)
    return page.model_copy(update={"items": kept, "fresh": fresh})


def etag(page: WardrobePage) -> str:
    """A weak validator of what the page says a game should show: its items (with status), where the
    next page starts and, re-checked, what moved. The blocks it is valid at are left out: a player's
    page that the last blocks did not change keeps its tag, so a game polling each block gets 304s
    (RFC 9110 weak comparison: the same items, stated at an older block)."""
    body = page.model_dump(mode="json", include={"owner", "items", "next_cursor"})
    if page.fresh is not None:
        body["moved"] = [m.model_dump(mode="json") for m in page.fresh.moved]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f'W/"{digest[:32]}"'
