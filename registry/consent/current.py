"""Whether a consent is current: the one rule the brand's export and the owner's list both apply.

A share consent is exported while it is neither revoked nor expired, the owner still holds a twin of
the brand in the index (purpose limitation: the details were shared as an owner, for owners'
services; holding one again brings an unexpired, unrevoked consent back), the brand's recipient is
still in the country the notice named, and, for an owner who declared residence in mainland China
while that recipient is abroad, a separate cross-border consent naming this recipient is current too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.consent.models import Consent, ConsentProfile
from registry.consent.notice import Recipient
from registry.twins.models import Twin

CURRENT = "current"


def recipient(profile: ConsentProfile) -> Recipient:
    return Recipient(profile.recipient_name, profile.recipient_contact, profile.recipient_country)


def owners_among(s: Session, brand_id: str, addresses: set[str]) -> set[str]:
    """Which of `addresses` hold an unburned twin of the brand, per the index."""
    found: set[str] = set()
    listed = sorted(addresses)
    for i in range(0, len(listed), 500):
        query = select(Twin.owner).where(
            col(Twin.brand_id) == brand_id, col(Twin.owner).in_(listed[i : i + 500]), col(Twin.burned).is_(False)
        )
        found.update(o for o in s.exec(query.distinct()) if o is not None)
    return found


def cross_border_valid(child: Consent, profile: ConsentProfile, now: int) -> bool:
    caveat = json.loads(child.recap_json)
    return (
        child.revoked_at is None
        and child.expires_at > now
        and caveat.get("recipient") == profile.recipient_name
        and caveat.get("country") == profile.recipient_country
    )


def states(s: Session, brand_id: str, shares: Sequence[Consent], now: int) -> dict[str, str]:
    """Each share consent's state: current, or why it is not (revoked, expired, recipient-changed,
    not-an-owner, needs-cross-border)."""
    profile = s.get(ConsentProfile, brand_id)
    live = [c for c in shares if c.revoked_at is None and c.expires_at > now]
    owners = owners_among(s, brand_id, {c.address for c in live}) if live else set()
    children: dict[str, list[Consent]] = {}
    need = [c.id for c in live if c.residence_cn]
    for i in range(0, len(need), 500):
        for child in s.exec(select(Consent).where(col(Consent.parent_id).in_(need[i : i + 500]))):
            children.setdefault(child.parent_id or "", []).append(child)
    out: dict[str, str] = {}
    for c in shares:
        if c.revoked_at is not None:
            out[c.id] = "revoked"
        elif c.expires_at <= now:
            out[c.id] = "expired"
        elif profile is None or profile.recipient_country != c.recipient_country:
            out[c.id] = "recipient-changed"
        elif c.address not in owners:
            out[c.id] = "not-an-owner"
        elif (
            c.residence_cn
            and recipient(profile).abroad
            and not any(cross_border_valid(k, profile, now) for k in children.get(c.id, []))
        ):
            out[c.id] = "needs-cross-border"
        else:
            out[c.id] = CURRENT
    return out


def mine(s: Session, address: str, now: int) -> list[tuple[Consent, str]]:
    """The owner's consents, newest first, each with its state (a cross-border one: its own)."""
    rows = s.exec(select(Consent).where(col(Consent.address) == address).order_by(col(Consent.granted_at).desc())).all()
    out: dict[str, str] = {}
    for brand_id in {c.brand_id for c in rows}:
        out.update(states(s, brand_id, [c for c in rows if c.brand_id == brand_id and c.kind == "share"], now))
    for c in rows:
        if c.kind != "share":
            profile = s.get(ConsentProfile, c.brand_id)
            if c.revoked_at is not None:
                out[c.id] = "revoked"
            elif c.expires_at <= now:
                out[c.id] = "expired"
            else:
                out[c.id] = CURRENT if profile and cross_border_valid(c, profile, now) else "recipient-changed"
    return [(c, out[c.id]) for c in rows]
