"""Consent the owner signs: the message to sign, the grant (the SIWE checks, the nonce spent for a
consent only, the signature of an EOA, an ERC-1271 wallet or an EIP-6492 one), revocation by the
owner's session alone, and the webhooks `consent.granted` and `consent.revoked` in the same
transaction. The contact details are sealed under the server key, bound to the consent's id."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.auth.vault import seal
from registry.brands.service import get_brand
from registry.consent import messages as m
from registry.consent.current import owners_among, recipient
from registry.consent.models import Consent, ConsentProfile
from registry.consent.notice import cross_border_notice, share_notice
from registry.consent.refusals import (
    ConsentMessageRefused,
    ConsentNonce,
    ConsentSignature,
    CrossBorderNotNeeded,
    NoRecipient,
    NotAnOwner,
    NoticeChanged,
    WrongAccount,
)
from registry.db import ratelimit
from registry.db.ratelimit import Limit
from registry.errors import Conflict, InvalidInput, NotFound
from registry.settings import Settings
from registry.siwe.erc6492_code import VALIDATOR_CREATION_CODE
from registry.siwe.message import parse
from registry.siwe.models import PURPOSE_CONSENT, SiweNonce
from registry.siwe.service import NONCE_ALPHABET, NONCE_LENGTH, expectation
from registry.siwe.signatures import ChainCalls, signed_by
from registry.siwe.verification import SiweRefused, check
from registry.webhooks.outbox import enqueue_brand_event


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def set_profile(s: Session, brand_id: str, name: str, contact: str, country: str) -> ConsentProfile:
    row = s.get(ConsentProfile, brand_id) or ConsentProfile(
        brand_id=brand_id, recipient_name=name, recipient_contact=contact, recipient_country=country
    )
    row.recipient_name, row.recipient_contact, row.recipient_country = name, contact, country
    row.updated_at = datetime.now(UTC)
    s.add(row)
    return row


def profile_of(s: Session, brand_id: str) -> ConsentProfile:
    row = s.get(ConsentProfile, brand_id)
    if row is None:
        raise NoRecipient("the brand has not stated its recipient of owners' details yet")
    return row


def _must_own(s: Session, brand_id: str, address: str) -> None:
    if address not in owners_among(s, brand_id, {address}):
        raise NotAnOwner("consent is asked of the brand's owners: this account holds none of its twins")


def _nonce(s: Session, settings: Settings, address: str, now: float) -> str:
    limit = Limit("consent-messages:address", settings.consent_messages_per_minute, timedelta(minutes=1), "messages")
    ratelimit.hit(s, [(limit, address)])
    nonce = "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))
    expires = int(now + settings.siwe_nonce_seconds)
    s.add(SiweNonce(nonce_hash=sha256(nonce), partner_id=None, expires_at=expires, purpose=PURPOSE_CONSENT))
    return nonce


def share_message(
    s: Session,
    settings: Settings,
    chain_id: int,
    address: str,
    *,
    brand_id: str,
    fields: list[str],
    purpose: str,
    mainland_china: bool,
    now: float,
) -> m.Built:
    brand = get_brand(s, brand_id)
    to = recipient(profile_of(s, brand.id))
    fields, purpose = m.clean_fields(fields), m.check_purpose(purpose)
    _must_own(s, brand.id, address)
    notice = share_notice(to, fields, purpose)
    return m.build(
        expectation(settings, chain_id),
        address=address,
        brand_id=brand.id,
        brand_name=brand.name,
        ability=m.SHARE,
        caveat=m.share_caveat(fields, purpose, mainland_china, notice),
        nonce=_nonce(s, settings, address, now),
        now=now,
        expires_at=now + settings.consent_days * 86400,
        notice=notice,
    )


def own(s: Session, address: str, consent_id: str) -> Consent:
    row = s.get(Consent, consent_id)
    if row is None or row.address != address:
        raise NotFound(f"no consent {consent_id} of yours")
    return row


def _extendable(s: Session, parent: Consent, now: float) -> ConsentProfile:
    profile = profile_of(s, parent.brand_id)
    if parent.kind != "share" or parent.revoked_at is not None or parent.expires_at <= now:
        raise Conflict("only a share consent that is neither revoked nor expired can be extended")
    if not parent.residence_cn or not recipient(profile).abroad:
        raise CrossBorderNotNeeded("only an owner in mainland China sharing with a recipient abroad needs it")
    return profile


def cross_border_message(
    s: Session, settings: Settings, chain_id: int, address: str, parent_id: str, now: float
) -> m.Built:
    parent = own(s, address, parent_id)
    to = recipient(_extendable(s, parent, now))
    fields = json.loads(parent.fields)
    notice = cross_border_notice(to, fields, parent.purpose)
    return m.build(
        expectation(settings, chain_id),
        address=address,
        brand_id=parent.brand_id,
        brand_name=get_brand(s, parent.brand_id).name,
        ability=m.CROSS_BORDER,
        caveat=m.cross_border_caveat(parent.id, to, fields, parent.purpose, notice),
        nonce=_nonce(s, settings, address, now),
        now=now,
        expires_at=parent.expires_at,
        notice=notice,
    )


def _checked_contact(fields: list[str], contact: dict[str, Any] | None) -> dict[str, Any]:
    given = {k: v for k, v in (contact or {}).items() if v not in (None, "", [])}
    if set(given) != set(fields):
        raise InvalidInput(f"the contact details must be exactly the consented fields ({', '.join(fields)})")
    return given


def grant(
    s: Session,
    settings: Settings,
    chain: ChainCalls | None,
    chain_id: int,
    server_key: str,
    address: str,
    text: str,
    signature: str,
    contact: dict[str, Any] | None,
    *,
    now: float,
    validator_6492: bytes | None = VALIDATOR_CREATION_CODE,
) -> Consent:
    """Checks every part of the signed message against what this service would have built now, then
    the nonce and the signature; stores the consent and its sealed details; `consent.granted`."""
    message = parse(text)
    expected = expectation(settings, chain_id)
    try:
        check(message, expected, datetime.fromtimestamp(now, UTC))
    except SiweRefused as refused:
        raise ConsentMessageRefused(refused.detail) from None
    if message.address != address:
        raise WrongAccount(f"the message is for {message.address}; you are signed in as {address}")
    got = m.read(message, expected, lambda brand_id: get_brand(s, brand_id).name)
    caveat, expires = got.caveat, message.expiration
    assert expires is not None  # read() requires it
    if expires.timestamp() - message.issued_at_time.timestamp() > settings.consent_days * 86400 + 60:
        raise m.ConsentRecapInvalid(f"a consent lasts at most {settings.consent_days} days")
    profile = profile_of(s, got.brand_id)
    to, fields, purpose = recipient(profile), caveat["fields"], caveat["purpose"]
    parent: Consent | None = None
    if got.ability == m.SHARE:
        notice = share_notice(to, fields, purpose)
        details = _checked_contact(fields, contact)
    else:
        parent = own(s, address, str(caveat["consent"]))
        _extendable(s, parent, now)
        notice = cross_border_notice(to, fields, purpose)
        if (
            parent.brand_id != got.brand_id
            or m.cross_border_caveat(parent.id, to, json.loads(parent.fields), parent.purpose, notice) != caveat
        ):
            raise NoticeChanged("the cross-border consent does not name this recipient and this share consent")
        if contact:
            raise InvalidInput("a cross-border consent carries no contact details (its share consent holds them)")
        details = {}
    if caveat["notice"] != notice.digest:
        raise NoticeChanged("the notice you read is no longer the brand's: ask for a new message and read it again")
    _must_own(s, got.brand_id, address)
    live = (
        col(SiweNonce.nonce_hash) == sha256(message.nonce),
        col(SiweNonce.used_at).is_(None),
        col(SiweNonce.expires_at) > int(now),
        col(SiweNonce.purpose) == PURPOSE_CONSENT,  # a sign-in's nonce never grants a consent
    )
    if s.exec(select(SiweNonce).where(*live)).first() is None:
        raise ConsentNonce("this message's nonce was not issued for a consent, was already used, or has expired")
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("signature must be hex") from None
    kind = signed_by(chain, address, text, raw, validator_6492=validator_6492)
    if kind is None:  # the nonce is burnt: a refused signature may have cost wallet calls
        s.execute(update(SiweNonce).where(*live).values(used_at=int(now)))
        s.commit()
        raise ConsentSignature(f"the signature is not {address}'s for this message")
    if s.execute(update(SiweNonce).where(*live).values(used_at=int(now))).rowcount != 1:  # type: ignore[attr-defined]
        raise ConsentNonce("this message's nonce was already used")
    row = Consent(
        id=str(uuid.uuid4()),
        brand_id=got.brand_id,
        address=address,
        kind="share" if parent is None else "cross-border",
        parent_id=None if parent is None else parent.id,
        message=text,
        signature=signature,
        signature_kind=kind,
        recap_json=m.caveat_json(caveat),
        fields=json.dumps(fields),
        purpose=purpose,
        notice_hash=notice.digest,
        residence_cn=bool(caveat.get("mainland_china", parent.residence_cn if parent else False)),
        recipient_country=to.country,
        granted_at=int(now),
        expires_at=int(expires.timestamp()),
    )
    if details:
        row.sealed_contact = seal(server_key, f"consent:{row.id}", json.dumps(details).encode())
    s.add(row)
    s.flush()
    enqueue_brand_event(s, row.brand_id, event(row, "consent.granted"))
    return row


def revoke(s: Session, address: str, consent_id: str, now: float) -> Consent:
    """Revokes the owner's consent (and a cross-border one extending it): the sealed details are
    deleted at once; the signed message stays as the proof of what was agreed and when it ended."""
    row = own(s, address, consent_id)
    children = s.exec(select(Consent).where(col(Consent.parent_id) == row.id)).all()
    for c, by in ((row, "owner"), *((k, "parent") for k in children)):
        if c.revoked_at is None:
            c.revoked_at, c.revoked_by, c.sealed_contact = int(now), by, None
            s.add(c)
            enqueue_brand_event(s, c.brand_id, event(c, "consent.revoked"))
    return row


def event(c: Consent, kind: str) -> dict[str, Any]:
    """The webhook event: who consented to what, never the details themselves."""
    data = {
        "consent_id": c.id,
        "kind": c.kind,
        "parent_id": c.parent_id,
        "address": c.address,
        "fields": json.loads(c.fields),
        "purpose": c.purpose,
        "notice": c.notice_hash,
        "granted_at": c.granted_at,
        "expires_at": c.expires_at,
        "revoked_at": c.revoked_at,
        "revoked_by": c.revoked_by,
    }
    return {
        "id": f"evt_consent_{c.id}_{kind.split('.')[1]}",
        "type": kind,
        "contract": None,
        "token_id": None,
        "data": data,
    }
