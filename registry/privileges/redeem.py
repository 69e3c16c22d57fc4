"""Redeeming a privilege for one twin: the owner (or a delegate of the owner's, delegate.xyz) asks,
the twin must qualify now, and the redemption row's unique key (privilege, collection, token) makes it
once per twin whoever holds it. The privilege's row is written first, which serialises redemptions of
one privilege on both databases (PostgreSQL's row lock; SQLite's single writer), so the capacity and
the codes are counted under that lock. A receipt signed by the receipt key, a code if the privilege
hands them out, and a `privilege.redeemed` webhook event, all in the one transaction."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.chain.client import TwinmarkChain
from registry.privileges import delegation
from registry.privileges.eligibility import evaluate
from registry.privileges.models import Privilege, PrivilegeCode, Redemption
from registry.privileges.receipts import Receipt, sign
from registry.privileges.refusals import (
    AlreadyRedeemed,
    NotADelegate,
    NotEligible,
    NotRedeemable,
    NotTheOwner,
    PrivilegeNotFound,
    SoldOut,
)
from registry.privileges.schemas import Redeemed
from registry.privileges.service import open_code, redemption_out
from registry.settings import Settings
from registry.twins.models import Twin
from registry.webhooks.outbox import enqueue_brand_event

DAY = 86_400


def acting_owner(chain: TwinmarkChain, settings: Settings, actor: str, vault: str | None, twin: tuple[str, int]) -> str:
    """Whose twin the signed-in `actor` acts on: their own, or `vault`'s if the vault delegated to them
    (for all, for the collection, or for this token)."""
    if vault is None or vault.lower() == actor.lower():
        return actor
    registry = settings.privilege_delegate_registry
    if not registry or not delegation.for_token(chain, registry, actor, vault, *twin):
        raise NotADelegate(f"{vault} has not delegated to {actor} for this twin")
    return to_checksum_address(vault)


def redeem(
    s: Session,
    *,
    chain: TwinmarkChain,
    settings: Settings,
    server_key: str,
    receipt_key: LocalAccount,
    actor: str,
    vault: str | None,
    privilege_id: int,
    collection: str,
    token_id: int,
    now: int,
) -> Redeemed:
    collection = to_checksum_address(collection)
    owner = acting_owner(chain, settings, actor, vault, (collection, token_id))
    twin = s.get(Twin, (collection, token_id))
    privilege = s.get(Privilege, privilege_id)
    if twin is None or privilege is None or privilege.retired_at is not None or privilege.brand_id != twin.brand_id:
        raise PrivilegeNotFound(f"no privilege {privilege_id} for this twin")
    if twin.owner is None or twin.owner.lower() != owner.lower():
        raise NotTheOwner(f"twin {token_id} of {collection} is not {owner}'s (as of the last indexed block)")
    if privilege.kind == "ongoing":
        raise NotRedeemable("an ongoing privilege lasts while the twin qualifies; nothing to redeem")
    verdict = next(
        (
            v
            for tv in evaluate(s, twin.owner, now)
            if (tv.held.facts.collection, tv.held.facts.token_id) == (collection, token_id)
            for v in tv.verdicts
            if v.privilege.id == privilege_id
        ),
        None,
    )
    if verdict is None:
        raise NotEligible("this twin does not carry the privilege", reasons=["not-in-scope"])
    if verdict.failed:
        raise NotEligible(f"not eligible: {', '.join(verdict.failed)}", reasons=verdict.failed)
    # The lock: every redemption of this privilege writes its row first, so the counts below are exact.
    s.execute(update(Privilege).where(col(Privilege.id) == privilege_id).values(updated_at=privilege.updated_at))
    taken = s.exec(
        select(Redemption.id).where(
            Redemption.privilege_id == privilege_id,
            Redemption.collection == collection,
            Redemption.token_id == token_id,
        )
    ).first()
    if taken is not None:
        raise AlreadyRedeemed(f"twin {token_id} already redeemed privilege {privilege_id}")
    if privilege.capacity is not None:
        count = s.exec(
            select(func.count()).select_from(Redemption).where(Redemption.privilege_id == privilege_id)
        ).one()
        if count >= privilege.capacity:
            raise SoldOut(f"all {privilege.capacity} redemptions of privilege {privilege_id} are taken")
    code = None
    if privilege.kind == "code":
        code = s.exec(
            select(PrivilegeCode)
            .where(PrivilegeCode.privilege_id == privilege_id, col(PrivilegeCode.redemption_id).is_(None))
            .order_by(col(PrivilegeCode.id))
            .limit(1)
        ).first()
        if code is None:
            raise SoldOut(f"privilege {privilege_id} has no code left")
    expires = now + settings.receipt_valid_days * DAY
    if privilege.ends_at is not None:
        expires = min(expires, privilege.ends_at)
    receipt = Receipt(
        chain_id=chain.chain_id,
        privilege_id=privilege_id,
        collection=collection,
        token_id=token_id,
        owner=twin.owner,
        issued_at=now,
        expires_at=expires,
        nonce="0x" + os.urandom(32).hex(),
    )
    text = sign(receipt_key, receipt)
    row = Redemption(
        privilege_id=privilege_id,
        brand_id=privilege.brand_id,
        collection=collection,
        token_id=token_id,
        owner=twin.owner,
        actor=actor,
        nonce=receipt.nonce,
        issued_at=now,
        expires_at=expires,
        receipt=text,
        code_id=None if code is None else code.id,
    )
    s.add(row)
    try:
        s.flush()  # the unique key: a twin redeemed meanwhile (past the lock, should a database not hold it)
    except IntegrityError:
        raise AlreadyRedeemed(f"twin {token_id} already redeemed privilege {privilege_id}") from None
    plain = None
    if code is not None:
        code.redemption_id = row.id
        s.add(code)
        plain = open_code(server_key, code)
    enqueue_brand_event(
        s,
        privilege.brand_id,
        {
            "id": f"evt_privilege_{row.id}_redeemed",
            "type": "privilege.redeemed",
            "contract": collection,
            "token_id": token_id,
            "data": redemption_out(row).model_dump(mode="json") | {"privilege_name": privilege.name_en},
        },
    )
    assert row.id is not None
    return Redeemed(redemption_id=row.id, receipt=text, expires_at=datetime.fromtimestamp(expires, UTC), code=plain)
