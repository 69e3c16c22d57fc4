"""A player's wearables: what an address owns (public: ownership is public on chain), and the
signed-in player's own, game-ready, with the block the answer is valid at; cheap to poll (`ETag`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlmodel import Session

from api.deps import ChainDep, PlayerDep, ServerKeyDep, SessionDep, SettingsDep
from api.routes.common import checksum, client_address
from registry.chain.client import TwinmarkChain
from registry.settings import Settings
from registry.wardrobe import service as wardrobe
from registry.wardrobe.schemas import WardrobePage

router = APIRouter(tags=["wardrobe"])


class ListingQuery:
    """The listing's filters and paging, shared by both routes."""

    def __init__(
        self,
        kind: Annotated[Literal["physical", "virtual"] | None, Query()] = None,
        collection: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
        brand: Annotated[str | None, Query(max_length=64, description="a brand's id")] = None,
        category: Annotated[str | None, Query(max_length=50, description="wearable category")] = None,
        limit: Annotated[int, Query(ge=1, le=wardrobe.MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
        fresh: Annotated[
            bool, Query(description="re-check the page's owners and status at the chain head (one batched read)")
        ] = False,
        if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    ) -> None:
        self.filters = wardrobe.Filters(
            kind=kind, collection=checksum(collection) if collection else None, brand=brand, category=category
        )
        self.limit, self.cursor, self.fresh, self.if_none_match = limit, cursor, fresh, if_none_match


ListingDep = Annotated[ListingQuery, Depends()]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the page's items are those of the `If-None-Match` tag"}
}


def _etag_matches(header: str | None, tag: str) -> bool:
    """`If-None-Match` by weak comparison (RFC 9110): any listed tag, or `*`."""
    if header is None:
        return False
    opaque = tag.removeprefix("W/")
    return any(c.strip() == "*" or c.strip().removeprefix("W/") == opaque for c in header.split(","))


def _answer(
    settings: Settings,
    chain: TwinmarkChain,
    cursor_key: str,
    s: Session,
    owner: str,
    q: ListingQuery,
    response: Response,
    caller: str,
) -> WardrobePage | Response:
    # Sync on purpose: FastAPI runs it in the threadpool, so its SQL and chain reads never block the loop.
    if q.fresh:  # counted first: a refused caller costs no read at all
        wardrobe.fresh_quota(s, settings.fresh_listings_per_minute, caller, settings.fresh_listings_ceiling_per_minute)
    page = wardrobe.listing(
        s,
        chain_id=chain.chain_id,
        gateway_base=settings.gateway_base,
        cursor_key=cursor_key,
        owner=owner,
        filters=q.filters,
        limit=q.limit,
        cursor=q.cursor,
    )
    if q.fresh:
        page = wardrobe.recheck(chain, page)
    tag = wardrobe.etag(page)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if _etag_matches(q.if_none_match, tag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return page


@router.get("/v1/owners/{address}/twins", response_model=WardrobePage, responses=_RESPONSES)
def owner_twins(
    address: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")],
    q: ListingDep,
    settings: SettingsDep,
    chain: ChainDep,
    server_key: ServerKeyDep,
    s: SessionDep,
    request: Request,
    response: Response,
) -> WardrobePage | Response:
    """The twins `address` owns, game-ready, from the index (valid at `valid_at`), in pages
    (`next_cursor`); `fresh=true` re-checks them at the chain head and drops those that moved
    (at most `fresh_listings_per_minute` per client: 429 beyond). With `kind`, `brand` or `category`,
    a page examines a bounded number of the owner's twins: it may hold fewer than `limit` items, even
    none, and still have a `next_cursor`; follow it until it is null."""
    return _answer(settings, chain, server_key, s, address, q, response, "client:" + client_address(request))


@router.get("/v1/me/twins", response_model=WardrobePage, responses=_RESPONSES)
def my_twins(
    player: PlayerDep,
    q: ListingDep,
    settings: SettingsDep,
    chain: ChainDep,
    server_key: ServerKeyDep,
    s: SessionDep,
    response: Response,
) -> WardrobePage | Response:
    """The signed-in player's twins (`Authorization: Bearer` a SIWE session token), as `/v1/owners/{address}/twins`
    (`fresh=true` counted per player)."""
    return _answer(settings, chain, server_key, s, player.address, q, response, "player:" + player.address)
