"""NFC enrolment: a brand's NTAG 424 master key (sealed at rest, never returned) and the tags and
HaLo chips bound to its twins. Per-tag AES keys are re-derived from the master key when a tap
arrives (AN10922, `registry.nfc.diversify`), so nothing per tag is stored that could leak."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Literal

from eth_utils.address import to_checksum_address
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry import redaction
from registry.auth.vault import seal, unseal
from registry.brands.models import Brand
from registry.errors import Conflict, InvalidInput, NotFound
from registry.nfc import diversify, halo, ndef
from registry.nfc.models import NfcMasterKey, NfcTag
from registry.nfc.schemas import ContentBinding, SdmSettings, TagIn, TagOut
from registry.twins.metadata import tag_binding
from registry.twins.models import Twin
from registry.twins.schemas import TagBinding

SEALED = "sealed:v1:"


def _salt(brand_id: str) -> str:
    return f"nfc-master-key:{brand_id}"  # binds the sealed blob to its brand: not movable to another row


def set_master_key(session: Session, server_key: str, brand: Brand, key_hex: str) -> tuple[NfcMasterKey, bool]:
    """Stores (or replaces) the brand's master key, sealed; (row, whether a key was replaced)."""
    text = key_hex.strip().removeprefix("0x")
    if len(text) != 32:
        raise InvalidInput("the master key is AES-128: 32 hex digits")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise InvalidInput("the master key must be hex") from None  # the value itself is never echoed
    redaction.register(text, text.lower(), text.upper())  # should it ever reach a log line by accident
    sealed = SEALED + seal(server_key, _salt(brand.id), key)
    row = session.get(NfcMasterKey, brand.id)
    if row is None:
        row = NfcMasterKey(brand_id=brand.id, sealed_key=sealed)
        session.add(row)
        return row, False
    row.sealed_key, row.updated_at = sealed, datetime.now(UTC)
    return row, True


def master_key(session: Session, server_key: str, brand_id: str | None) -> bytes | None:
    row = session.get(NfcMasterKey, brand_id) if brand_id else None
    if row is None:
        return None
    return unseal(server_key, _salt(row.brand_id), row.sealed_key.removeprefix(SEALED))


def count_tags(session: Session, brand: Brand, kind: str) -> int:
    return len(session.exec(select(NfcTag.id).where(NfcTag.brand_id == brand.id, NfcTag.kind == kind)).all())


def own_twin(session: Session, brand: Brand, contract: str, token_id: int) -> Twin:
    """The twin, if it is this brand's; another brand's twin does not exist for the caller."""
    twin = session.get(Twin, (contract, token_id))
    if twin is None or twin.brand_id != brand.id:
        raise NotFound(f"no twin {token_id} in {contract} for this brand")
    return twin


def binding(tag: NfcTag) -> dict[str, str]:
    """The entry the twin's content lists for this tag (`twinmark.passport.nfc`), as minting writes it."""
    if tag.kind == "ntag424":
        return tag_binding(TagBinding(type="ntag424", uid=tag.identity))
    return tag_binding(TagBinding(type="halo", address=tag.identity))


def bound_in_content(twin: Twin, tag: NfcTag) -> bool:
    """Whether the twin's current content names this tag: what a buyer can check without the server."""
    try:
        doc = json.loads(twin.metadata_json)
        listed = doc["twinmark"]["passport"].get("nfc", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    want = binding(tag)
    for entry in listed if isinstance(listed, list) else []:
        if not isinstance(entry, dict) or entry.get("type") != want["type"]:
            continue
        if tag.kind == "ntag424" and str(entry.get("uid_sha256", "")).lower() == want["uid_sha256"]:
            return True
        if tag.kind == "halo" and str(entry.get("address", "")).lower() == want["address"].lower():
            return True
    return False


def _halo_identity(body: TagIn) -> tuple[str, str | None]:
    """(address, uncompressed public key hex or None) of the chip named by `body`."""
    if body.public_key is None:
        assert body.address is not None
        return to_checksum_address(body.address), None
    try:
        key = halo.public_key(bytes.fromhex(body.public_key.removeprefix("0x")))
    except (halo.HaloError, ValueError) as exc:
        raise InvalidInput(f"public_key: {exc}") from None
    address = halo.address(key)
    if body.address is not None and body.address.lower() != address.lower():
        raise InvalidInput("address is not the address of public_key")
    return address, "04" + key.to_bytes().hex()


def enrol_challenge(chain_id: int, contract: str, token_id: int) -> bytes:
    """What a HaLo chip signs to be enrolled on a twin: bound to the chain, the collection and the token,
    so a chip's address seen in a tap (it is public) cannot be enrolled by anyone without the chip."""
    return hashlib.sha256(f"twinmark:enrol-halo:{chain_id}:{contract.lower()}:{token_id}".encode()).digest()


def _prove_possession(body: TagIn, address: str, challenge: bytes) -> None:
    if body.signature is None:
        raise InvalidInput(
            "a halo chip is enrolled with its signature over the enrolment challenge"
            f" {challenge.hex()} (sign_challenge with key slot 2), proving the brand holds the chip"
        )
    try:
        signers = halo.signers(halo.challenge_digest(challenge), bytes.fromhex(body.signature.removeprefix("0x")))
    except (halo.HaloError, ValueError) as exc:
        raise InvalidInput(f"signature: {exc}") from None
    if address not in signers:
        raise InvalidInput("signature: not the chip's signature over this twin's enrolment challenge")


def enroll(
    session: Session,
    server_key: str,
    base_url: str,
    brand: Brand,
    contract: str,
    token_id: int,
    body: TagIn,
    *,
    chain_id: int,
) -> tuple[NfcTag, Twin]:
    twin = own_twin(session, brand, contract, token_id)
    if twin.kind != "physical":
        raise InvalidInput("NFC tags are bound to physical twins")
    public_key = None
    if body.type == "ntag424":
        assert body.uid is not None
        if master_key(session, server_key, brand.id) is None:
            raise InvalidInput("set the brand's NTAG 424 master key first (PUT /v1/brands/me/nfc/master-key)")
        identity = body.uid.upper()
        try:
            ndef.sdm_layout(page_url(base_url, twin.collection, twin.token_id))
        except ndef.UrlTooLong as exc:
            raise InvalidInput(f"{exc}: shorten the service's public URL") from None
    else:
        identity, public_key = _halo_identity(body)
        _prove_possession(body, identity, enrol_challenge(chain_id, twin.collection, twin.token_id))
    query = select(NfcTag).where(NfcTag.brand_id == brand.id, NfcTag.kind == body.type, NfcTag.identity == identity)
    taken = session.exec(query).first()
    if taken is not None:
        raise Conflict("this tag is already bound to a twin; a tag serves one twin only")
    tag = NfcTag(
        id=str(uuid.uuid4()),
        kind=body.type,
        identity=identity,
        public_key=public_key,
        brand_id=brand.id,
        collection=twin.collection,
        token_id=twin.token_id,
    )
    try:
        with session.begin_nested():  # two enrolments of one tag at once: the unique index decides
            session.add(tag)
    except IntegrityError:
        raise Conflict("this tag is already bound to a twin; a tag serves one twin only") from None
    return tag, twin


def tags_of(session: Session, contract: str, token_id: int) -> list[NfcTag]:
    query = select(NfcTag).where(NfcTag.collection == contract, NfcTag.token_id == token_id)
    return list(session.exec(query.order_by(col(NfcTag.created_at))).all())


def page_url(base_url: str, contract: str, token_id: int) -> str:
    return f"{base_url.rstrip('/')}/t/{contract}/{token_id}"


def sdm_settings(base_url: str, tag: NfcTag) -> SdmSettings | None:
    """Programming notes for an NTAG 424 tag: its NDEF file, SDM offsets and key derivations."""
    if tag.kind != "ntag424":
        return None
    layout = ndef.sdm_layout(page_url(base_url, tag.collection, tag.token_id))
    aid, meta_si, file_si = diversify.AID.hex().upper(), diversify.META_READ_SI.hex(), diversify.FILE_READ_SI.hex()
    return SdmSettings(
        url=layout.url,
        ndef_file=layout.ndef_file.hex().upper(),
        sdm_options="C1",
        picc_data_offset=layout.picc_data_offset,
        sdm_mac_input_offset=layout.sdm_mac_input_offset,
        sdm_mac_offset=layout.sdm_mac_offset,
        meta_read_key=f"AN10922(master, {aid} || {meta_si.upper()}) (AID || 'twinmark:SDMMetaRead')",
        file_read_key=f"AN10922(master, {tag.identity} || {aid} || {file_si.upper()}) (UID || AID || "
        "'twinmark:SDMFileRead')",
    )


def tag_view(tag: NfcTag, twin: Twin, base_url: str) -> TagOut:
    """A tag as its brand sees it: identity, binding, counter, how to program it; never a key."""
    kind: Literal["ntag424", "halo"] = "ntag424" if tag.kind == "ntag424" else "halo"  # the two kinds enrolled
    return TagOut(
        sdm=sdm_settings(base_url, tag),
        id=tag.id,
        type=kind,
        uid=tag.identity if tag.kind == "ntag424" else None,
        address=tag.identity if tag.kind == "halo" else None,
        public_key=tag.public_key,
        contract=tag.collection,
        token_id=tag.token_id,
        bound_in_content=bound_in_content(twin, tag),
        content_binding=ContentBinding.model_validate(binding(tag)),  # the content's own entry, as published
        last_counter=tag.last_counter if tag.last_counter >= 0 else None,
        last_tap_at=tag.last_tap_at,
        created_at=tag.created_at,
    )
