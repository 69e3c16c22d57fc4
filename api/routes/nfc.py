"""NFC tags: a brand's NTAG 424 master key, tag and HaLo chip enrolment per twin, tap checks and
HaLo challenge-response. Tap and challenge routes are public (a buyer's phone calls them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from api import scans
from api.deps import BrandDep, ChainDep, ServerKeyDep, SessionDep, SettingsDep
from api.routes.common import TokenId, checksum, client_address, signature_bytes
from registry.errors import NotFound
from registry.nfc import challenges, service, taps
from registry.nfc.schemas import (
    ChallengeAnswerIn,
    ChallengeIn,
    ChallengeOut,
    ChallengeResult,
    MasterKeyIn,
    MasterKeyOut,
    TagIn,
    TagList,
    TagOut,
    TapOut,
)
from registry.twins.models import Twin

router = APIRouter(tags=["nfc"])
TapParam = Annotated[str | None, Query()]


@router.put("/v1/brands/me/nfc/master-key", response_model=MasterKeyOut)
def set_master_key(body: MasterKeyIn, brand: BrandDep, s: SessionDep, server_key: ServerKeyDep) -> MasterKeyOut:
    """Sets (or replaces) the brand's AES-128 NTAG 424 master key. It is sealed at rest with the server
    key and never returned. Tags' SDM keys are diversified from it (AN10922): replacing it means the
    tags programmed with the old one no longer verify."""
    row, replaced = service.set_master_key(s, server_key, brand, body.key.get_secret_value())
    return MasterKeyOut(
        brand=brand.id, set_at=row.updated_at, replaced=replaced, ntag424_tags=service.count_tags(s, brand, "ntag424")
    )


@router.post("/v1/twins/{contract}/{token_id}/nfc-tags", status_code=status.HTTP_201_CREATED, response_model=TagOut)
def enroll_tag(
    contract: str,
    token_id: TokenId,
    body: TagIn,
    brand: BrandDep,
    s: SessionDep,
    server_key: ServerKeyDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> TagOut:
    """Binds an NTAG 424 DNA (by UID) or a HaLo chip (by its key slot 2 public key or address) to one of
    the brand's twins. A tag serves one twin only (409). `bound_in_content` says whether the twin's
    current content already lists it, so a buyer can check the binding without this service."""
    tag, twin = service.enroll(
        s, server_key, settings.base_url, brand, checksum(contract), token_id, body, chain_id=chain.chain_id
    )
    return service.tag_view(tag, twin, settings.base_url)


@router.get("/v1/twins/{contract}/{token_id}/nfc-tags", response_model=TagList)
def list_tags(contract: str, token_id: TokenId, brand: BrandDep, s: SessionDep, settings: SettingsDep) -> TagList:
    """The tags enrolled on one of the brand's twins (identities and counters; no key)."""
    twin = service.own_twin(s, brand, checksum(contract), token_id)
    tags = service.tags_of(s, twin.collection, twin.token_id)
    return TagList(tags=[service.tag_view(t, twin, settings.base_url) for t in tags])


@router.get("/v1/twins/{contract}/{token_id}/tap", response_model=TapOut)
def check_tap(
    contract: str,
    token_id: TokenId,
    request: Request,
    s: SessionDep,
    server_key: ServerKeyDep,
    picc_data: TapParam = None,
    enc: TapParam = None,
    cmac: TapParam = None,
    uid: TapParam = None,
    ctr: TapParam = None,
    rnd: TapParam = None,
    rndsig: TapParam = None,
    pk1: TapParam = None,
    pk2: TapParam = None,
) -> TapOut:
    """Checks the tap a tag wrote into its URL: NTAG 424 SUN (`picc_data`, `enc`, `cmac`; or plaintext
    `uid`, `ctr`, `cmac`) or HaLo (`rnd`, `rndsig`, `pk2`). A genuine tap is fresh only once: its counter
    must be above every one seen before for that tag. Malformed parameters are a 400 problem."""
    address = checksum(contract)
    if s.get(Twin, (address, token_id)) is None:
        raise NotFound(f"no twin {token_id} in {address}")
    result = scans.observe(
        request, address, token_id, taps.check_tap(s, server_key, address, token_id, dict(request.query_params))
    )
    if result is None:
        raise taps.MalformedTap("no tap parameters (picc_data and cmac, or rnd and rndsig)")
    if result.code == "malformed":
        raise taps.MalformedTap(result.detail)
    return TapOut.model_validate(result, from_attributes=True)


@router.post("/v1/nfc/challenges", status_code=status.HTTP_201_CREATED, response_model=ChallengeOut)
def issue_challenge(body: ChallengeIn, request: Request, s: SessionDep) -> ChallengeOut:
    """A nonce for the twin's HaLo chip to sign (libhalo `sign_challenge`); answer it within two minutes."""
    challenge = challenges.issue(s, checksum(body.contract), body.token_id, client_address(request))
    return ChallengeOut(
        id=challenge.id,
        nonce=challenge.nonce,
        expires_at=challenge.expires_at,
        contract=challenge.collection,
        token_id=challenge.token_id,
    )


@router.post("/v1/nfc/challenges/{challenge_id}", response_model=ChallengeResult)
def answer_challenge(challenge_id: str, body: ChallengeAnswerIn, s: SessionDep) -> ChallengeResult:
    """The chip's signature over the nonce proves it is present. A challenge is answered once (410 after)."""
    return challenges.answer(s, challenge_id, signature_bytes(body.signature))
