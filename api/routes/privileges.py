"""Owners' privileges: the brand defines them (API key), owners see and redeem theirs (a signed-in
session: SIWE or a passkey; a hot wallet may act for a cold one that delegated to it on delegate.xyz),
anyone sees which privileges a twin carries (names only)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import BrandDep, ChainDep, PlayerDep, ServerKeyDep, SessionDep, SettingsDep
from api.routes.common import MAX_ID, TokenId, checksum
from registry.errors import InvalidInput
from registry.privileges import service
from registry.privileges.eligibility import carried, holder
from registry.privileges.owners import my_privileges
from registry.privileges.receipts import receipt_account
from registry.privileges.redeem import redeem
from registry.privileges.schemas import (
    CarriedPrivilege,
    CarriedPrivileges,
    CodesAdded,
    CodesIn,
    Holder,
    HolderTwin,
    MyPrivileges,
    PrivilegeIn,
    PrivilegeList,
    PrivilegeOut,
    PrivilegePatch,
    Redeemed,
    RedeemIn,
    RedemptionList,
    RedemptionOut,
    Texts,
)

router = APIRouter(tags=["privileges"])
PrivilegeId = Annotated[int, Path(ge=1, le=MAX_ID)]
Vault = Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="a cold wallet that delegated to you")]


@router.post("/v1/privileges", status_code=status.HTTP_201_CREATED)
def create_privilege(body: PrivilegeIn, brand: BrandDep, s: SessionDep) -> PrivilegeOut:
    return service.out(s, service.create(s, brand.id, body))


@router.get("/v1/privileges")
def list_privileges(brand: BrandDep, s: SessionDep) -> PrivilegeList:
    return PrivilegeList(privileges=[service.out(s, p) for p in service.list_for(s, brand.id)])


@router.get("/v1/privileges/redemptions")
def list_redemptions(
    brand: BrandDep,
    s: SessionDep,
    privilege_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    cursor: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RedemptionList:
    """Newest first; `double_uses` counts receipts two venues accepted while offline."""
    return service.list_redemptions(s, brand.id, privilege_id=privilege_id, cursor=cursor, limit=limit)


@router.post("/v1/privileges/redemptions/{redemption_id}/revoke")
def revoke_redemption(redemption_id: PrivilegeId, brand: BrandDep, s: SessionDep) -> RedemptionOut:
    """Its receipt is refused by every online check from now on (the twin stays redeemed)."""
    return service.redemption_out(service.revoke(s, brand.id, redemption_id))


@router.get("/v1/privileges/{privilege_id}")
def read_privilege(privilege_id: PrivilegeId, brand: BrandDep, s: SessionDep) -> PrivilegeOut:
    return service.out(s, service.own(s, brand.id, privilege_id))


@router.get("/v1/privileges/{privilege_id}/holders/{address}")
def privilege_holder(privilege_id: PrivilegeId, address: str, brand: BrandDep, s: SessionDep) -> Holder:
    """Whether `address` qualifies now, through which twins (an ongoing privilege is not redeemed: the
    brand's site asks this, after its own sign-in of the owner). Read from the index at this moment."""
    p = service.own(s, brand.id, privilege_id)
    owner = checksum(address)
    twins = [
        HolderTwin(collection=h.facts.collection, token_id=h.facts.token_id, eligible=not failed, why_not=failed)
        for h, failed in holder(s, p, owner, int(time.time()))
    ]
    return Holder(privilege_id=privilege_id, owner=owner, eligible=any(t.eligible for t in twins), twins=twins)


@router.patch("/v1/privileges/{privilege_id}")
def update_privilege(privilege_id: PrivilegeId, body: PrivilegePatch, brand: BrandDep, s: SessionDep) -> PrivilegeOut:
    return service.out(s, service.update(s, brand.id, privilege_id, body))


@router.post("/v1/privileges/{privilege_id}/retire")
def retire_privilege(privilege_id: PrivilegeId, brand: BrandDep, s: SessionDep) -> PrivilegeOut:
    return service.out(s, service.retire(s, brand.id, privilege_id))


@router.post("/v1/privileges/{privilege_id}/codes", status_code=status.HTTP_201_CREATED)
def upload_codes(
    privilege_id: PrivilegeId, body: CodesIn, brand: BrandDep, s: SessionDep, key: ServerKeyDep
) -> CodesAdded:
    """Discount codes, stored sealed; each is handed out to one redemption only."""
    return service.add_codes(s, key, brand.id, privilege_id, body.codes)


@router.get("/v1/me/privileges")
def my_privileges_route(
    player: PlayerDep, s: SessionDep, chain: ChainDep, settings: SettingsDep, key: ServerKeyDep, vault: Vault = None
) -> MyPrivileges:
    """Each twin you hold (or `vault` holds, if it delegated to you) with the privileges it carries,
    whether you qualify (`why_not` otherwise) and your receipts. Read from the index now."""
    return my_privileges(
        s, chain=chain, settings=settings, server_key=key, actor=player.address, vault=vault, now=int(time.time())
    )


@router.post("/v1/privileges/{privilege_id}/redeem", status_code=status.HTTP_201_CREATED)
def redeem_privilege(
    privilege_id: PrivilegeId,
    body: RedeemIn,
    player: PlayerDep,
    s: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
    key: ServerKeyDep,
) -> Redeemed:
    """Once per twin, whoever holds it: the receipt (EIP-712, shown as a QR) and, for a `code`
    privilege, the code."""
    return redeem(
        s,
        chain=chain,
        settings=settings,
        server_key=key,
        receipt_key=receipt_account(settings),
        actor=player.address,
        vault=body.vault,
        privilege_id=privilege_id,
        collection=body.collection,
        token_id=body.token_id,
        now=int(time.time()),
    )


@router.get("/v1/twins/{contract}/{token_id}/privileges")
def twin_privileges(contract: str, token_id: TokenId, s: SessionDep) -> CarriedPrivileges:
    """The privileges this twin carries for whoever owns it (names only; the owner's view says more)."""
    if token_id == 0:
        raise InvalidInput("token ids start at 1")
    found = carried(s, checksum(contract), token_id, int(time.time()))
    return CarriedPrivileges(
        privileges=[CarriedPrivilege(id=p.id or 0, kind=p.kind, name=Texts(en=p.name_en, zh=p.name_zh)) for p in found]  # type: ignore[arg-type]
    )
