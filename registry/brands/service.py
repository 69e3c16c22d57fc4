"""Brands: on-chain registration, their default collection, and hashed API keys."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from registry.brands.models import ApiKey, Brand, Collection
from registry.chain.client import TwinmarkChain
from registry.errors import Conflict, InvalidInput, Unauthenticated

_KEY = re.compile(r"^tmk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key(session: Session, brand_id: str) -> str:
    """Creates a key and returns it in clear, once; only its SHA-256 is stored."""
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    session.add(ApiKey(id=prefix, brand_id=brand_id, key_hash=_hash(secret)))
    return f"tmk_{prefix}_{secret}"


def authenticate(session: Session, key: str) -> Brand:
    """The brand a key belongs to; Unauthenticated otherwise (constant-time hash comparison)."""
    match = _KEY.match(key)
    record = session.get(ApiKey, match.group(1)) if match else None
    expected = record.key_hash if record is not None else _hash("")
    given = _hash(match.group(2)) if match else _hash("x")
    if record is None or record.revoked_at is not None or not hmac.compare_digest(expected, given):
        raise Unauthenticated("invalid API key")
    brand = session.get(Brand, record.brand_id)
    assert brand is not None
    return brand


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
