"""Brands: on-chain registration, their default collection, and hashed API keys."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlmodel import Session, select

from registry import keys
from registry.brands.models import ApiKey, Brand, Collection, Provider
from registry.chain.client import TwinmarkChain
from registry.claims.vault import seal, unseal
from registry.errors import Conflict, ContractReverted, InvalidInput, NotFound, Unauthenticated


@dataclass
class Principal:
    """Who is calling: a brand, or one of its service providers, and with which key."""

    brand: Brand
    key_id: str
    key: str  # in memory for this request only: opens what was sealed under it
    provider: Provider | None = None


def new_api_key(session: Session, brand_id: str, provider_id: str | None = None) -> str:
    """Creates a key and returns it in clear, once; only its SHA-256 is stored."""
    key = keys.new_key("tmk")
    session.add(ApiKey(id=key.prefix, brand_id=brand_id, provider_id=provider_id, key_hash=key.secret_hash))
    return key.text


def authenticate(session: Session, key: str) -> Principal:
    """The principal a key belongs to; Unauthenticated otherwise (constant-time hash comparison)."""
    parts = keys.parse(key, "tmk")
    record = session.get(ApiKey, parts[0]) if parts else None
    stored = record.key_hash if record is not None and record.revoked_at is None else None
    if record is None or not keys.matches(stored, parts[1] if parts else None):
        raise Unauthenticated("invalid API key")
    brand = session.get(Brand, record.brand_id)
    assert brand is not None
    provider = session.get(Provider, record.provider_id) if record.provider_id else None
    return Principal(brand, record.id, key, provider)


@dataclass
class NewBrand:
    brand: Brand
    collection: Collection
    api_key: str


def register_brand(
    session: Session, chain: TwinmarkChain, *, name: str, symbol: str, admin: str | None, contract_uri: str
) -> NewBrand:
    """Registers the brand on chain, creates its collection (the service as minter), stores both."""
    if session.exec(select(Brand).where(Brand.name == name)).first() is not None:
        raise Conflict(f"a brand named {name!r} already exists")
    if not re.fullmatch(r"[A-Z0-9]{2,11}", symbol):
        raise InvalidInput("symbol must be 2 to 11 upper-case letters or digits")
    admin_address = admin or chain.sender.address
    chain_brand_id = chain.register_brand(admin_address, name)
    address = chain.create_collection(chain_brand_id, name, symbol, contract_uri, chain.sender.address)
    brand = Brand(id=str(uuid.uuid4()), name=name, chain_brand_id=chain_brand_id, admin_address=admin_address)
    session.add(brand)
    session.flush()
    collection = Collection(address=address, brand_id=brand.id, name=name, symbol=symbol)
    session.add(collection)
    key = new_api_key(session, brand.id)
    return NewBrand(brand, collection, key)


def collections_of(session: Session, brand_id: str) -> list[Collection]:
    return list(session.exec(select(Collection).where(Collection.brand_id == brand_id)))


@dataclass
class NewProvider:
    provider: Provider
    api_key: str


def create_provider(session: Session, chain: TwinmarkChain, brand: Brand, name: str) -> NewProvider:
    """A provider with its own signing key, authorised on chain in every collection of the brand."""
    if chain.call(chain.registry.functions.brandAdmin(brand.chain_brand_id)) != chain.sender.address:
        raise Conflict("this brand's on-chain admin is its own key: authorise providers with setServiceProvider")
    account = Account.create()
    provider_id = str(uuid.uuid4())
    key = keys.new_key("tmk")
    # The signing key is sealed under the provider's own API key before either is stored.
    sealed = seal(key.text, f"provider:{provider_id}", bytes(account.key))
    provider = Provider(id=provider_id, brand_id=brand.id, name=name, address=account.address, sealed_key=sealed)
    session.add(provider)
    session.flush()
    session.add(ApiKey(id=key.prefix, brand_id=brand.id, provider_id=provider_id, key_hash=key.secret_hash))
    for collection in collections_of(session, brand.id):
        chain.sender.transact(chain.collection(collection.address).functions.setServiceProvider(account.address, True))
    return NewProvider(provider, key.text)


def provider_account(principal: Principal) -> LocalAccount:
    """The provider's signing key, opened with the key of the provider making this request."""
    assert principal.provider is not None
    raw = unseal(principal.key, f"provider:{principal.provider.id}", principal.provider.sealed_key)
    account: LocalAccount = Account.from_key(raw)
    return account


def mark_compromised(session: Session, chain: TwinmarkChain, brand_id: str, since: int) -> dict[str, Any]:
    """Operator: the brand's keys were compromised from `since` (unix time, not in the future)."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise NotFound(f"no brand {brand_id}")
    try:
        receipt = chain.sender.transact(chain.registry.functions.markCompromised(brand.chain_brand_id, since))
    except ContractReverted as exc:
        raise Conflict(f"the registry refused: {exc.name}", error=exc.name) from None
    return {"brand": brand.id, "compromised_since": since, "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex()}


def resolve_compromise(session: Session, chain: TwinmarkChain, brand_id: str) -> dict[str, Any]:
    """Operator: the brand's keys are replaced; the open compromise window closes now."""
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise NotFound(f"no brand {brand_id}")
    try:
        receipt = chain.sender.transact(chain.registry.functions.resolveCompromise(brand.chain_brand_id))
    except ContractReverted as exc:
        raise Conflict(f"the registry refused: {exc.name}", error=exc.name) from None
    windows = chain.call(chain.registry.functions.compromiseWindows(brand.chain_brand_id))
    return {
        "brand": brand.id,
        "windows": [{"start": w[0], "end": w[1] or None} for w in windows],
        "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex(),
    }
