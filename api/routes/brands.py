"""Brands: registration (operator), the brand's own view, compromise windows (operator)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import BrandCallerDep, BrandDep, ChainDep, OperatorDep, SessionDep
from api.routes.common import checksum
from registry.auth.service import issue_key, revoke_brand_keys, rotate
from registry.brands import service as brands
from registry.brands.schemas import (
    AttestationIn,
    AttestationOut,
    BrandCreated,
    BrandIn,
    BrandOut,
    CompromiseIn,
    CompromiseOut,
    CompromiseResolvedOut,
    CompromiseWindowOut,
    KeyIssued,
    KeyRotated,
    KeysRevoked,
    TransferPolicyIn,
    TransferPolicyOut,
)
from registry.claims import service as claims

router = APIRouter(prefix="/v1/brands", tags=["brands"])


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def create_brand(body: BrandIn, chain: ChainDep, s: SessionDep) -> BrandCreated:
    """Registers a brand on chain with its own collection; the API key is shown only in this answer."""
    made = brands.register_brand(
        s,
        chain,
        name=body.name,
        symbol=body.symbol,
        admin=body.admin_address,
        contract_uri=body.contract_uri,
        policy=body.policy(),
        no_prices=body.no_prices,
    )
    key = issue_key(s, made.brand.id)
    return BrandCreated(**dict(BrandOut.of(made.brand, [made.collection])), api_key=key)


@router.get("/me")
def my_brand(brand: BrandDep, s: SessionDep) -> BrandOut:
    return BrandOut.of(brand, brands.collections_of(s, brand.id))


@router.post("/me/keys", status_code=status.HTTP_201_CREATED)
def rotate_key(who: BrandCallerDep, s: SessionDep) -> KeyRotated:
    """Rotates the calling key: a new key is shown once and the calling key stops working at once.
    Unfetched claim secrets sealed under the old key move to the new one."""
    rotated = rotate(s, who.caller)
    moved = claims.reseal(s, who.caller, rotated.key, rotated.key_id)
    return KeyRotated(
        api_key=rotated.key, key_id=rotated.key_id, revoked_key_id=rotated.revoked_key_id, claim_secrets_moved=moved
    )


@router.post("/{brand_id}/keys", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def issue_brand_key(brand_id: str, s: SessionDep) -> KeyIssued:
    """Operator: a new key for the brand (after a revocation or a compromise); shown once."""
    return KeyIssued(api_key=issue_key(s, brands.get_brand(s, brand_id).id))


@router.post("/{brand_id}/keys/revoke", dependencies=[OperatorDep])
def revoke_keys(brand_id: str, s: SessionDep) -> KeysRevoked:
    """Operator: every key of the brand stops working at once (its providers' keys stay)."""
    brand = brands.get_brand(s, brand_id)
    return KeysRevoked(brand=brand.id, revoked_keys=revoke_brand_keys(s, brand.id))


@router.post("/{brand_id}/compromise", dependencies=[OperatorDep])
def compromise(brand_id: str, body: CompromiseIn, chain: ChainDep, s: SessionDep) -> CompromiseOut:
    """Operator: the brand's keys were compromised from `since`; its twins minted from then on fail verification."""
    since = body.unix()
    change = brands.mark_compromised(s, chain, brand_id, since)
    return CompromiseOut(
        brand=change.brand, compromised_since=since, tx_hash=change.tx_hash, revoked_keys=change.revoked_keys
    )


@router.post("/{brand_id}/compromise/resolve", dependencies=[OperatorDep])
def resolve(brand_id: str, chain: ChainDep, s: SessionDep) -> CompromiseResolvedOut:
    """Operator: new keys in place; the compromise window closes now."""
    change = brands.resolve_compromise(s, chain, brand_id)
    windows = [CompromiseWindowOut(start=w.start, end=w.end) for w in change.windows]
    return CompromiseResolvedOut(brand=change.brand, windows=windows, tx_hash=change.tx_hash)


@router.put("/me/owners/{owner}/attestation")
def set_owner_attestation(owner: str, body: AttestationIn, brand: BrandDep, s: SessionDep) -> AttestationOut:
    """Stores the brand's opaque reference to its own real-name check of `owner` (never the identity)."""
    row = brands.set_attestation(s, brand, checksum(owner), body.reference)
    return AttestationOut(owner=row.owner, reference=row.reference, updated_at=row.updated_at)


@router.get("/me/owners/{owner}/attestation")
def owner_attestation(owner: str, brand: BrandDep, s: SessionDep) -> AttestationOut:
    row = brands.get_attestation(s, brand, checksum(owner))
    return AttestationOut(owner=row.owner, reference=row.reference, updated_at=row.updated_at)


@router.post("/me/collections/{contract}/transfer-policy")
def tighten_transfer_policy(
    contract: str, body: TransferPolicyIn, brand: BrandDep, chain: ChainDep, s: SessionDep
) -> TransferPolicyOut:
    """Makes the collection's transfer policy stricter (never looser: buyers bought under it)."""
    tx_hash = brands.tighten_transfer_policy(s, chain, brand, checksum(contract), body.policy())
    return TransferPolicyOut(**body.model_dump(), contract=checksum(contract), tx_hash=tx_hash)
