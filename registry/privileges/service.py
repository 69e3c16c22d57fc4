"""A brand's privileges: define, list, change, retire; upload discount codes (sealed under the server
key, each handed out once); list redemptions. Another brand's privilege does not exist for the caller."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.auth.vault import seal, unseal
from registry.brands.service import collections_of
from registry.errors import InvalidInput
from registry.privileges.models import Privilege, PrivilegeCode, Redemption
from registry.privileges.refusals import PrivilegeNotFound
from registry.privileges.rules import Rules
from registry.privileges.schemas import (
    CodesAdded,
    LongTexts,
    PrivilegeIn,
    PrivilegeOut,
    PrivilegePatch,
    RedemptionList,
    RedemptionOut,
    Texts,
)


def _unix(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp())


def _when(at: int | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC)


def _check_collections(s: Session, brand_id: str, rules: Rules) -> None:
    mine = {c.address.lower() for c in collections_of(s, brand_id)}
    foreign = [c for c in rules.collections if c.lower() not in mine]
    if foreign:
        raise InvalidInput(f"not collections of this brand: {', '.join(foreign)}")


def create(s: Session, brand_id: str, body: PrivilegeIn) -> Privilege:
    _check_collections(s, brand_id, body.rules)
    p = Privilege(
        brand_id=brand_id,
        kind=body.kind,
        name_en=body.name.en,
        name_zh=body.name.zh,
        description_en=body.description.en,
        description_zh=body.description.zh,
        rules=body.rules.model_dump_json(),
        starts_at=_unix(body.starts_at),
        ends_at=_unix(body.ends_at),
        capacity=body.capacity,
    )
    s.add(p)
    s.flush()
    return p


def own(s: Session, brand_id: str, privilege_id: int) -> Privilege:
    """The privilege, if it is this brand's; another brand's does not exist for the caller."""
    p = s.get(Privilege, privilege_id)
    if p is None or p.brand_id != brand_id:
        raise PrivilegeNotFound(f"no privilege {privilege_id}")
    return p


def update(s: Session, brand_id: str, privilege_id: int, patch: PrivilegePatch) -> Privilege:
    p = own(s, brand_id, privilege_id)
    given = patch.model_fields_set
    if patch.name is not None:
        p.name_en, p.name_zh = patch.name.en, patch.name.zh
    if patch.description is not None:
        p.description_en, p.description_zh = patch.description.en, patch.description.zh
    if patch.rules is not None:
        _check_collections(s, brand_id, patch.rules)
        p.rules = patch.rules.model_dump_json()
    for field in ("starts_at", "ends_at"):
        if field in given:
            setattr(p, field, _unix(getattr(patch, field)))
    if "capacity" in given:
        p.capacity = patch.capacity
    if p.starts_at is not None and p.ends_at is not None and p.ends_at <= p.starts_at:
        raise InvalidInput("ends_at must be after starts_at")
    p.updated_at = datetime.now(UTC)
    s.add(p)
    return p


def retire(s: Session, brand_id: str, privilege_id: int) -> Privilege:
    """Owners no longer see or redeem it; receipts already issued stay checkable."""
    p = own(s, brand_id, privilege_id)
    p.retired_at = p.retired_at or int(time.time())
    p.updated_at = datetime.now(UTC)
    s.add(p)
    return p


def rules_of(p: Privilege) -> Rules:
    return Rules.model_validate_json(p.rules)


def out(s: Session, p: Privilege) -> PrivilegeOut:
    assert p.id is not None
    redeemed = s.exec(select(func.count()).select_from(Redemption).where(Redemption.privilege_id == p.id)).one()
    left = None
    if p.kind == "code":
        left = s.exec(
            select(func.count())
            .select_from(PrivilegeCode)
            .where(PrivilegeCode.privilege_id == p.id, col(PrivilegeCode.redemption_id).is_(None))
        ).one()
    return PrivilegeOut(
        id=p.id,
        kind=p.kind,  # type: ignore[arg-type]
        name=Texts(en=p.name_en, zh=p.name_zh),
        description=LongTexts(en=p.description_en, zh=p.description_zh),
        rules=rules_of(p),
        starts_at=_when(p.starts_at),
        ends_at=_when(p.ends_at),
        capacity=p.capacity,
        retired=p.retired_at is not None,
        redeemed=int(redeemed),
        codes_left=None if left is None else int(left),
    )


def list_for(s: Session, brand_id: str, *, include_retired: bool = True) -> list[Privilege]:
    query = select(Privilege).where(Privilege.brand_id == brand_id)
    if not include_retired:
        query = query.where(col(Privilege.retired_at).is_(None))
    return list(s.exec(query.order_by(col(Privilege.id))))


# ---------------------------------------------------------------- discount codes


def _code_hash(server_key: str, privilege_id: int, code: str) -> str:
    return hmac.new(server_key.encode(), f"{privilege_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _salt(privilege_id: int) -> str:
    return f"privilege-code:{privilege_id}"


def add_codes(s: Session, server_key: str, brand_id: str, privilege_id: int, codes: list[str]) -> CodesAdded:
    """Stores the codes sealed (a repeated code, in this upload or an earlier one, is counted, not stored)."""
    p = own(s, brand_id, privilege_id)
    if p.kind != "code":
        raise InvalidInput("only a privilege of kind `code` takes codes")
    cleaned = [c.strip() for c in codes]
    if any(not c or len(c) > 200 for c in cleaned):
        raise InvalidInput("a code is 1 to 200 characters")
    hashes = {_code_hash(server_key, privilege_id, c): c for c in cleaned}
    known: set[str] = set()
    keys = list(hashes)
    for i in range(0, len(keys), 500):
        known |= set(
            s.exec(
                select(PrivilegeCode.code_hash).where(
                    PrivilegeCode.privilege_id == privilege_id, col(PrivilegeCode.code_hash).in_(keys[i : i + 500])
                )
            )
        )
    fresh = [(h, c) for h, c in hashes.items() if h not in known]
    s.add_all(
        PrivilegeCode(privilege_id=privilege_id, code_hash=h, sealed=seal(server_key, _salt(privilege_id), c.encode()))
        for h, c in fresh
    )
    s.flush()
    left = out(s, p).codes_left or 0
    return CodesAdded(added=len(fresh), duplicates=len(cleaned) - len(fresh), codes_left=left)


def open_code(server_key: str, code: PrivilegeCode) -> str:
    return unseal(server_key, _salt(code.privilege_id), code.sealed).decode()


# ---------------------------------------------------------------- redemptions


def redemption_out(r: Redemption) -> RedemptionOut:
    assert r.id is not None
    return RedemptionOut(
        id=r.id,
        privilege_id=r.privilege_id,
        collection=r.collection,
        token_id=r.token_id,
        owner=r.owner,
        actor=r.actor,
        issued_at=datetime.fromtimestamp(r.issued_at, UTC),
        expires_at=datetime.fromtimestamp(r.expires_at, UTC),
        used_at=_when(r.used_at),
        used_venue=r.used_venue,
        double_uses=r.double_uses,
        revoked_at=_when(r.revoked_at),
        revoked_reason=r.revoked_reason,
    )


def list_redemptions(
    s: Session, brand_id: str, *, privilege_id: int | None = None, cursor: int | None = None, limit: int = 100
) -> RedemptionList:
    """The brand's redemptions, newest first (`cursor`: the last id of the previous page)."""
    query = select(Redemption).where(Redemption.brand_id == brand_id)
    if privilege_id is not None:
        own(s, brand_id, privilege_id)
        query = query.where(Redemption.privilege_id == privilege_id)
    if cursor is not None:
        query = query.where(col(Redemption.id) < cursor)
    rows = list(s.exec(query.order_by(col(Redemption.id).desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return RedemptionList(
        redemptions=[redemption_out(r) for r in rows], next_cursor=rows[-1].id if more and rows else None
    )


def revoke(s: Session, brand_id: str, redemption_id: int) -> Redemption:
    r = s.get(Redemption, redemption_id)
    if r is None or r.brand_id != brand_id:
        raise PrivilegeNotFound(f"no redemption {redemption_id}")
    if r.revoked_at is None:
        r.revoked_at, r.revoked_reason = int(time.time()), "brand"
        s.add(r)
    return r
