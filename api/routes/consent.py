"""Consent the owner signs: owners (player session, `Bearer tms_...`) ask for the message to sign,
grant, list and revoke; brands (brand key) state who receives the details and export the current
consents as JSON or CSV (every export logged with the key that asked)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from sqlmodel import Session

from api.deps import BrandCaller, BrandCallerDep, BrandDep, ChainDep, PlayerDep, ServerKeyDep, SessionDep, SettingsDep
from registry.brands.service import get_brand
from registry.consent import export, service
from registry.consent.current import mine
from registry.consent.messages import Built
from registry.consent.models import Consent
from registry.consent.schemas import (
    ConsentOut,
    ConsentToSignOut,
    ExportOut,
    GrantIn,
    NoticeOut,
    ProfileIn,
    ProfileOut,
    ShareIn,
)
from registry.siwe import service as siwe
from registry.staff.audit import record_as

router = APIRouter(tags=["consent"])
ConsentId = Annotated[str, Path(max_length=64)]


def _at(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _to_sign(built: Built, response: Response) -> ConsentToSignOut:
    response.headers["Cache-Control"] = "no-store"
    expiration = built.message.expiration
    assert expiration is not None
    notice = built.notice
    return ConsentToSignOut(
        message=built.message.text,
        notice=NoticeOut(en=notice.en, zh=notice.zh, digest=notice.digest),
        expires_at=expiration,
    )


def consent_out(c: Consent, brand_name: str, state: str) -> ConsentOut:
    return ConsentOut(
        id=c.id,
        brand_id=c.brand_id,
        brand_name=brand_name,
        kind=c.kind,
        parent_id=c.parent_id,
        fields=json.loads(c.fields),
        purpose=c.purpose,
        notice=c.notice_hash,
        mainland_china=c.residence_cn,
        signature_kind=c.signature_kind,
        granted_at=_at(c.granted_at),  # type: ignore[arg-type]
        expires_at=_at(c.expires_at),  # type: ignore[arg-type]
        revoked_at=_at(c.revoked_at),
        state=state,
        message=c.message,
    )


@router.post("/v1/consent/messages", status_code=status.HTTP_201_CREATED)
def share_message(
    body: ShareIn, player: PlayerDep, s: SessionDep, settings: SettingsDep, chain: ChainDep, response: Response
) -> ConsentToSignOut:
    """The message to sign to share these fields with the brand for this purpose, and the notice (in
    English and Chinese) it commits to by hash. Only an owner of one of the brand's twins is asked;
    the message's nonce is valid for a consent only, once, for `siwe_nonce_seconds`."""
    built = service.share_message(
        s,
        settings,
        chain.chain_id,
        player.address,
        brand_id=body.brand_id,
        fields=list(body.fields),
        purpose=body.purpose,
        mainland_china=body.mainland_china,
        now=time.time(),
    )
    return _to_sign(built, response)


@router.post("/v1/consent/{consent_id}/cross-border/message", status_code=status.HTTP_201_CREATED)
def cross_border_message(
    consent_id: ConsentId, player: PlayerDep, s: SessionDep, settings: SettingsDep, chain: ChainDep, response: Response
) -> ConsentToSignOut:
    """The separate message (PIPL art. 39) an owner in mainland China signs before their details go to
    a recipient abroad: it names the recipient and its contact, the purpose, the processing, the
    categories and how to exercise one's rights."""
    built = service.cross_border_message(s, settings, chain.chain_id, player.address, consent_id, time.time())
    return _to_sign(built, response)


@router.post("/v1/consent", status_code=status.HTTP_201_CREATED)
def grant(
    body: GrantIn,
    player: PlayerDep,
    s: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    server_key: ServerKeyDep,
) -> ConsentOut:
    """Grants the consent the signed message states (EOA, ERC-1271 or EIP-6492 signature of the
    signed-in account); a share consent carries exactly the consented contact details."""
    row = service.grant(
        s,
        settings,
        siwe.NodeCalls(chain, gas=settings.siwe_call_gas),
        chain.chain_id,
        server_key,
        player.address,
        body.message,
        body.signature,
        None if body.contact is None else body.contact.model_dump(exclude_none=True),
        now=time.time(),
    )
    state = dict((c.id, st) for c, st in mine(s, player.address, int(time.time())))[row.id]
    return consent_out(row, get_brand(s, row.brand_id).name, state)


@router.get("/v1/consent/mine")
def my_consents(player: PlayerDep, s: SessionDep, response: Response) -> list[ConsentOut]:
    """The signed-in owner's consents, newest first, each with its state and the message as signed."""
    response.headers["Cache-Control"] = "no-store"
    names: dict[str, str] = {}
    out = []
    for c, state in mine(s, player.address, int(time.time())):
        names.setdefault(c.brand_id, get_brand(s, c.brand_id).name)
        out.append(consent_out(c, names[c.brand_id], state))
    return out


@router.delete("/v1/consent/{consent_id}")
def revoke(consent_id: ConsentId, player: PlayerDep, s: SessionDep) -> ConsentOut:
    """Revokes at once, without a signature (as easy as granting): the details are deleted and leave
    the brand's next export; a cross-border consent extending it ends with it."""
    row = service.revoke(s, player.address, consent_id, time.time())
    return consent_out(row, get_brand(s, row.brand_id).name, "revoked")


@router.put("/v1/brands/me/consent/recipient")
def set_recipient(body: ProfileIn, brand: BrandDep, s: SessionDep) -> ProfileOut:
    """Who receives owners' details (the notices name it; a recipient outside mainland China makes
    owners there sign a separate cross-border consent). Moving it to another country ends the
    consents given for the old one."""
    row = service.set_profile(s, brand.id, body.recipient_name, body.recipient_contact, body.recipient_country)
    return ProfileOut(**body.model_dump(), updated_at=row.updated_at)


@router.get("/v1/brands/me/consent/recipient")
def get_recipient(brand: BrandDep, s: SessionDep) -> ProfileOut:
    row = service.profile_of(s, brand.id)
    return ProfileOut(
        recipient_name=row.recipient_name,
        recipient_contact=row.recipient_contact,
        recipient_country=row.recipient_country,
        updated_at=row.updated_at,
    )


def _audited(s: Session, b: BrandCaller, fmt: str, count: int) -> None:
    """The export in the consent log and the brand's audit log, in the export's own transaction."""
    actor = f"key:{b.caller.key_id}"
    export.log(s, b.brand.id, actor, fmt, count)
    record_as(s, b.brand.id, actor, "owners.export", detail=f"{fmt}, {count} rows")


@router.get("/v1/brands/me/consents")
def export_json(b: BrandCallerDep, s: SessionDep, server_key: ServerKeyDep, response: Response) -> ExportOut:
    """The owners whose consent is current, each with exactly the details they consented to share
    (logged: key, time, row count)."""
    now = time.time()
    found = export.rows(s, server_key, b.brand.id, now)
    _audited(s, b, "json", len(found))
    response.headers["Cache-Control"] = "no-store"
    return ExportOut(brand_id=b.brand.id, at=datetime.fromtimestamp(now, UTC), rows=found)


@router.get(
    "/v1/brands/me/consents.csv",
    response_class=Response,
    responses={200: {"description": "The export as CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_csv(b: BrandCallerDep, s: SessionDep, server_key: ServerKeyDep) -> Response:
    """The same as CSV (a column per field; a field not consented to is empty; formula-like text is
    prefixed with an apostrophe)."""
    found = export.rows(s, server_key, b.brand.id, time.time())
    _audited(s, b, "csv", len(found))
    return Response(
        export.to_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="consents.csv"', "Cache-Control": "no-store"},
    )
