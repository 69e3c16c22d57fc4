"""Who is calling: one decision for every route. A bearer key is a brand's or a service provider's
(`tmk_...`) or a partner's (`tmp_...`); checks compare hashes in constant time. Keys are issued
here and shown once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from registry.auth import keys
from registry.auth.models import ApiKey, Partner
from registry.errors import Unauthenticated


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
        if partner is None or not keys.matches(partner.key_hash, parts[1] if parts else None):
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
