"""NFC request and answer bodies (the tap result itself is `registry.nfc.taps.TapResult`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

TapCode = Literal["genuine-fresh", "replayed", "forged", "unknown-tag", "wrong-twin", "malformed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MasterKeyIn(Strict):
    # SecretStr: never shown by repr, so never in a log line or a validation message.
    key: SecretStr = Field(description="the brand's AES-128 NTAG 424 master key, 32 hex digits")


class MasterKeyOut(BaseModel):
    brand: str
    set_at: datetime
    replaced: bool = Field(description="a previous master key was replaced (tags keyed from it no longer verify)")
    ntag424_tags: int = Field(description="NTAG 424 tags this brand has enrolled")


class TagIn(Strict):
    type: Literal["ntag424", "halo"]
    uid: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{14}$", description="ntag424: the 7-byte UID, hex")
    public_key: str | None = Field(
        default=None,
        pattern=r"^(0x)?[0-9A-Fa-f]{66,130}$",
        description="halo: the chip's key slot 2 public key (uncompressed 04..., or compressed)",
    )
    address: str | None = Field(
        default=None, pattern=r"^0x[0-9a-fA-F]{40}$", description="halo: the address of the chip's key slot 2"
    )
    signature: str | None = Field(
        default=None,
        pattern=r"^(0x)?[0-9A-Fa-f]{16,200}$",
        description="halo: the chip's signature (sign_challenge, key slot 2) over the enrolment challenge"
        " sha256('twinmark:enrol-halo:{chain id}:{contract}:{token id}'), proving the brand holds the chip",
    )

    @model_validator(mode="after")
    def _one_identity(self) -> TagIn:
        if self.type == "ntag424" and (self.uid is None or self.public_key or self.address):
            raise ValueError("an ntag424 tag is enrolled by its uid only")
        if self.type == "halo" and (self.uid is not None or (self.public_key is None and self.address is None)):
            raise ValueError("a halo chip is enrolled by its public_key or its address")
        return self


class ContentBinding(BaseModel):
    """What the twin's content lists (`twinmark.passport.nfc`) for this tag, to be checked without the server."""

    type: Literal["ntag424", "halo"]
    uid_sha256: str | None = None
    address: str | None = None


class SdmSettings(BaseModel):
    """How to program this NTAG 424 DNA so its taps land on the twin's page (offsets in the NDEF file)."""

    url: str = Field(description="the tap URL as written to the tag: zeros where the tag mirrors its values")
    ndef_file: str = Field(description="the NDEF file (file 02) content, hex")
    sdm_options: str = Field(description="SDMOptions byte: UID mirror, read counter mirror, ASCII encoding")
    picc_data_offset: int
    sdm_mac_input_offset: int
    sdm_mac_offset: int
    enc_offset: int | None = None
    enc_length: int | None = None
    meta_read_key: str = Field(description="how the SDMMetaRead key derives from the brand's master key")
    file_read_key: str = Field(description="how this tag's SDMFileRead key derives from the brand's master key")


class TagOut(BaseModel):
    id: str
    type: Literal["ntag424", "halo"]
    uid: str | None = None
    address: str | None = None
    public_key: str | None = None
    contract: str
    token_id: int
    bound_in_content: bool = Field(description="the twin's current content lists this tag (content_binding)")
    content_binding: ContentBinding
    sdm: SdmSettings | None = Field(default=None, description="ntag424: how to program the tag")
    last_counter: int | None = Field(description="highest tap counter accepted so far (None: never tapped)")
    last_tap_at: datetime | None
    created_at: datetime


class TagList(BaseModel):
    tags: list[TagOut]


class TapOut(BaseModel):
    kind: Literal["ntag424", "halo"]
    genuine: bool = Field(description="the tap was made by the enrolled tag (its MAC or signature checks)")
    fresh: bool = Field(description="genuine and its counter is higher than any seen before: not a replay")
    counter: int | None
    bound_in_content: bool
    code: TapCode
    detail: str
    file_data: str | None = Field(default=None, description="ntag424: decrypted SDM file data, hex")


class ChallengeIn(Strict):
    contract: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    token_id: int = Field(ge=0, le=2**63 - 1)


class ChallengeOut(BaseModel):
    id: str
    nonce: str = Field(description="32 bytes, hex: sign it with the chip (libhalo sign_challenge, key slot 2)")
    expires_at: datetime
    contract: str
    token_id: int


class ChallengeAnswerIn(Strict):
    signature: str = Field(
        pattern=r"^(0x)?[0-9A-Fa-f]{128,160}$",
        description="the chip's DER signature over SHA-256('\\x19External chall pk2:\\n' || nonce), hex",
    )


class ChallengeResult(BaseModel):
    present: bool = Field(description="an enrolled chip of this twin signed the nonce: it is here now")
    code: TapCode
    detail: str
    address: str | None = Field(description="the chip that signed, when enrolled for this twin")
    bound_in_content: bool
