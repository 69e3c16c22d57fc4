"""Brands: on-chain registration with a default collection, and the operator's compromise windows."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from registry.auth.service import revoke_brand_keys
from registry.brands.models import Brand, Collection, OwnerAttestation
from registry.chain.client import TwinmarkChain
from registry.chain.refusals import refusal
from registry.db.columns import utcnow
from registry.errors import Conflict, ContractReverted, InvalidInput, NotFound


@dataclass
class NewBrand:
    brand: Brand
    collection: Collection


def register_brand(
    session: Session,
    chain: TwinmarkChain,
    *,
    name: str,
    symbol: str,
    admin: str | None,
    contract_uri: str,
    policy: tuple[int, int, int] = (0, 0, 0),
    no_prices: bool = False,
) -> NewBrand:
    """Registers the brand on chain, creates its collection (the service as minter), stores both."""
    if session.exec(select(Brand).where(Brand.name == name)).first() is not None:
        raise Conflict(f"a brand named {name!r} already exists")
    if not re.fullmatch(r"[A-Z0-9]{2,11}", symbol):
        raise InvalidInput("symbol must be 2 to 11 upper-case letters or digits")
    if policy[0] != 1 and policy[1:] != (0, 0):
        raise InvalidInput("holding periods belong to the gift_only transfer policy")
    admin_address = admin or chain.signer
    chain_brand_id = chain.register_brand(admin_address, name)
    address = chain.create_collection(chain_brand_id, name, symbol, contract_uri, chain.signer, policy)
    brand = Brand(id=str(uuid.uuid4()), name=name, chain_brand_id=chain_brand_id, admin_address=admin_address)
    session.add(brand)
    session.flush()
    collection = Collection(address=address, brand_id=brand.id, name=name, symbol=symbol, no_prices=no_prices)
    session.add(collection)
    return NewBrand(brand, collection)


def tighten_transfer_policy(
    session: Session, chain: TwinmarkChain, brand: Brand, contract: str, policy: tuple[int, int, int]
) -> str:
    """Makes one of the brand's collections' transfer policy stricter; the transaction hash. Never
    looser: buyers bought under the current promise (the contract refuses, and so does this, before
    sending)."""
    collection = own_collection(session, brand, contract)
    try:
        return chain.set_transfer_policy(collection.address, policy)
    except ContractReverted as exc:
        raise refusal(exc) from None


def get_brand(session: Session, brand_id: str) -> Brand:
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise NotFound(f"no brand {brand_id}")
    return brand


def collections_of(session: Session, brand_id: str) -> list[Collection]:
    return list(session.exec(select(Collection).where(Collection.brand_id == brand_id)))


def own_collection(session: Session, brand: Brand, contract: str) -> Collection:
    """The collection, if it is this brand's; otherwise it does not exist for the caller."""
    collection = session.get(Collection, contract)
    if collection is None or collection.brand_id != brand.id:
        raise NotFound(f"{contract} is not a collection of this brand")
    return collection


@dataclass(frozen=True)
class CompromiseWindow:
    start: int
    end: int | None  # None: still open


@dataclass(frozen=True)
class CompromiseChange:
    brand: str
    tx_hash: str
    since: int | None = None
    windows: tuple[CompromiseWindow, ...] = ()
    revoked_keys: int = 0


# The registry keeps a window's start as a uint64 of block time, after 0 (0 means "no window").
_FIRST_START, _LAST_START = 1, 2**64 - 1


def mark_compromised(session: Session, chain: TwinmarkChain, brand_id: str, since: int) -> CompromiseChange:
    """Operator: the brand's keys were compromised from `since` (unix time, not in the future). The
    brand's API keys are revoked with it: the operator issues a new one once the brand is safe again.
    A time the registry cannot hold (before 1970-01-01T00:00:01Z, or after its latest block) is
    `InvalidInput`."""
    if not _FIRST_START <= since <= _LAST_START:
        raise InvalidInput(f"since must be after 1970-01-01T00:00:00Z and not in the future (got {since})")
    brand = get_brand(session, brand_id)
    try:
        tx_hash = chain.mark_compromised(brand.chain_brand_id, since)
    except ContractReverted as exc:
        if exc.name == "TwinmarkRegistryInvalidCompromiseStart":  # after the chain's latest block time
            raise InvalidInput(f"since must not be in the future (got {since})", error=exc.name) from None
        raise Conflict(f"the registry refused: {exc.name}", error=exc.name) from None
    revoked = revoke_brand_keys(session, brand.id)
    return CompromiseChange(brand=brand.id, tx_hash=tx_hash, since=since, revoked_keys=revoked)


def resolve_compromise(session: Session, chain: TwinmarkChain, brand_id: str) -> CompromiseChange:
    """Operator: the brand's keys are replaced; the open compromise window closes now."""
    brand = get_brand(session, brand_id)
    try:
        tx_hash = chain.resolve_compromise(brand.chain_brand_id)
    except ContractReverted as exc:
        raise Conflict(f"the registry refused: {exc.name}", error=exc.name) from None
    windows = tuple(
        CompromiseWindow(start, end or None) for start, end in chain.compromise_windows(brand.chain_brand_id)
    )
    return CompromiseChange(brand=brand.id, tx_hash=tx_hash, windows=windows)


# What an identity looks like where Twinmark must never hold one: a PRC resident identity number, a
# mainland mobile number, an e-mail address. An attestation reference is the brand's own record id.
_IDENTITY_LIKE = (
    re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),
    re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)"),
    re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
)


def set_attestation(session: Session, brand: Brand, owner: str, reference: str) -> OwnerAttestation:
    """Records (or replaces) the brand's opaque real-name attestation reference for `owner`."""
    if any(p.search(reference) for p in _IDENTITY_LIKE):
        raise InvalidInput(
            "the reference looks like an identity (ID number, phone or e-mail): store only your own record's id"
        )
    row = session.get(OwnerAttestation, (brand.id, owner))
    if row is None:
        row = OwnerAttestation(brand_id=brand.id, owner=owner, reference=reference)
    else:
        row.reference, row.updated_at = reference, utcnow()
    session.add(row)
    return row


def get_attestation(session: Session, brand: Brand, owner: str) -> OwnerAttestation:
    row = session.get(OwnerAttestation, (brand.id, owner))
    if row is None:
        raise NotFound(f"no attestation reference for {owner}")
    return row
