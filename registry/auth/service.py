"""Who is calling: one decision for every route. A bearer key is a brand's or a service provider's
(`tmk_...`) or a partner's (`tmp_...`); checks compare hashes in constant time. Keys are issued
here and shown once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.auth import keys
from registry.auth.models import ApiKey, Partner
from registry.errors import NotFound, Unauthenticated


@dataclass(frozen=True)
class Caller:
    """An authenticated key: a brand's, one of its service providers', or a partner's."""

    key_id: str
    key: str  # in memory for this request only: opens what was sealed under it
    brand_id: str | None = None
    provider_id: str | None = None
    partner: Partner | None = None

    @property
    def kind(self) -> str:
        return "partner" if self.partner is not None else "provider" if self.provider_id else "brand"


def identify(session: Session, key: str) -> Caller:
    """The caller a key belongs to; Unauthenticated otherwise (a malformed or unknown key still
    costs one constant-time hash comparison)."""
    if key.startswith("tmp_"):
        parts = keys.parse(key, "tmp")
        partner = session.get(Partner, parts[0]) if parts else None
        stored = partner.key_hash if partner is not None and partner.revoked_at is None else None
        if partner is None or not keys.matches(stored, parts[1] if parts else None):
            raise Unauthenticated("invalid partner key")
        return Caller(key_id=partner.id, key=key, partner=partner)
    parts = keys.parse(key, "tmk")
    record = session.get(ApiKey, parts[0]) if parts else None
    stored = record.key_hash if record is not None and record.revoked_at is None else None
    if record is None or not keys.matches(stored, parts[1] if parts else None):
        raise Unauthenticated("invalid API key")
    return Caller(key_id=record.id, key=key, brand_id=record.brand_id, provider_id=record.provider_id)


def issue_key(session: Session, brand_id: str, provider_id: str | None = None, key: keys.NewKey | None = None) -> str:
    """Stores a brand's (or provider's) key as its hash and returns the key in clear, once."""
    key = key or keys.new_key("tmk")
    session.add(ApiKey(id=key.prefix, brand_id=brand_id, provider_id=provider_id, key_hash=key.secret_hash))
    return key.text


def create_partner(session: Session, name: str) -> tuple[Partner, str]:
    """A resale partner or game platform account; its key (`tmp_...`) is returned once."""
    key = keys.new_key("tmp")
    partner = Partner(id=key.prefix, name=name, key_hash=key.secret_hash)
    session.add(partner)
    return partner, key.text


def revoke_partner(session: Session, partner_id: str) -> None:
    """The partner's key stops working at once (and the player sessions opened through it)."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"no partner {partner_id}")
    partner.revoked_at = partner.revoked_at or datetime.now(UTC)


@dataclass(frozen=True)
class Rotated:
    key: str  # the new key, in clear, shown once
    key_id: str
    revoked_key_id: str


def rotate(session: Session, caller: Caller) -> Rotated:
    """A new key for the caller's brand (or provider); the caller's key stops working at once."""
    assert caller.brand_id is not None
    old = session.get(ApiKey, caller.key_id)
    assert old is not None
    old.revoked_at = datetime.now(UTC)
    new = keys.new_key("tmk")
    issue_key(session, caller.brand_id, caller.provider_id, new)
    return Rotated(key=new.text, key_id=new.prefix, revoked_key_id=old.id)


def revoke_brand_keys(session: Session, brand_id: str) -> int:
    """Revokes every live key of the brand itself (its providers' keys are theirs and stay)."""
    now = datetime.now(UTC)
    live = session.exec(
        select(ApiKey).where(
            ApiKey.brand_id == brand_id, col(ApiKey.provider_id).is_(None), col(ApiKey.revoked_at).is_(None)
        )
    ).all()
    for key in live:
        key.revoked_at = now
    return len(live)


def brand_keys(session: Session, brand_id: str) -> list[ApiKey]:
    """The brand's own keys (not its providers'), newest first: prefixes and dates, never a secret."""
    query = select(ApiKey).where(ApiKey.brand_id == brand_id, col(ApiKey.provider_id).is_(None))
    return list(session.exec(query.order_by(col(ApiKey.created_at).desc())).all())


def revoke_key(session: Session, brand_id: str, key_id: str) -> ApiKey:
    """One of the brand's own keys stops working at once; another brand's (or a provider's) key does
    not exist for it."""
    key = session.get(ApiKey, key_id)
    if key is None or key.brand_id != brand_id or key.provider_id is not None:
        raise NotFound(f"no key {key_id}")
    key.revoked_at = key.revoked_at or datetime.now(UTC)
    return key
