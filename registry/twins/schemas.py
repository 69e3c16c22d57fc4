"""What a brand sends to mint twins. Unknown fields are refused, so typos never pass silently."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from registry.assets.service import GLB, IMAGE_TYPES
from registry.chain.client import RelayState
from registry.errors import InvalidInput
from registry.ipfs.cid import CID
from registry.pinning.schemas import Durability
from registry.twins.gs1 import normalize_gtin, validate_serial
from registry.wearables.dcl import BODY_SHAPES, HideableCategory, WearableCategory
from registry.wearables.profiles import Profile
from registry.wearables.service import GarmentSpec

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


def _cid(text: str) -> str:
    try:
        return str(CID.parse(text.removeprefix("ipfs://")).v1())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a CID: {exc}") from exc


CidStr = Annotated[str, AfterValidator(_cid)]


def _located(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except InvalidInput as exc:
        raise ValueError(exc.detail) from None


TraitValue = str | int | float


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Material(Strict):
    name: str = Field(min_length=1, max_length=100)
    percent: float | None = Field(default=None, gt=0, le=100)


Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


class FibreShare(Strict):
    fibre: str = Field(min_length=1, max_length=60, description="e.g. cotton, wool, polyamide, bovine leather")
    percent: float = Field(gt=0, le=100)
    recycled: bool = False


class OriginStep(Strict):
    step: Literal[
        "raw-material", "spinning", "weaving", "knitting", "dyeing", "tanning", "finishing", "assembly", "other"
    ]
    country: Country
    facility: str | None = Field(default=None, max_length=200)


class Substance(Strict):
    """A substance of concern (ESPR art. 7(5)), by name and CAS number where it has one."""

    name: str = Field(min_length=1, max_length=200)
    cas: str | None = Field(default=None, pattern=r"^[0-9]{2,7}-[0-9]{2}-[0-9]$")
    concentration_percent: float | None = Field(default=None, ge=0, le=100)


class Repair(Strict):
    instructions: str | None = Field(default=None, max_length=2000)
    service_url: str | None = Field(default=None, pattern=r"^https://", max_length=500)
    spare_parts_available: bool | None = None


class ProductPassportEU(Strict):
    """EU Digital Product Passport fields for textiles and leather goods (ESPR), all optional."""

    category: Literal["textile", "leather", "footwear"] | None = None
    fibre_composition: list[FibreShare] = Field(default_factory=list, max_length=20)
    recycled_content_percent: float | None = Field(default=None, ge=0, le=100)
    origin_steps: list[OriginStep] = Field(default_factory=list, max_length=20)
    care_instructions: list[str] = Field(default_factory=list, max_length=20)
    repair: Repair | None = None
    substances_of_concern: list[Substance] = Field(default_factory=list, max_length=50)

    @field_validator("fibre_composition")
    @classmethod
    def _shares(cls, v: list[FibreShare]) -> list[FibreShare]:
        if v and abs(sum(f.percent for f in v) - 100) > 0.5:
            raise ValueError(f"fibre shares add up to {sum(f.percent for f in v):g} %, not 100 %")
        return v


class TagBinding(Strict):
    """An NFC tag bound to the twin in its content, so anyone can check the binding without the server:
    an NTAG 424 DNA by its UID (published as its SHA-256), a HaLo chip by its key's address."""

    type: Literal["ntag424", "halo"]
    uid: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{14}$", description="ntag424: the 7-byte UID, hex")
    address: Address | None = Field(default=None, description="halo: the chip key's Ethereum address")

    @model_validator(mode="after")
    def _one_identity(self) -> TagBinding:
        if (self.type == "ntag424") != (self.uid is not None) or (self.type == "halo") != (self.address is not None):
            raise ValueError("an ntag424 binding names its uid (and no address), a halo binding its address")
        return self


class PhysicalTwinIn(Strict):
    kind: Literal["physical"] = "physical"
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    gtin: str
    serial: str
    lot: str | None = None
    images: list[CidStr] = Field(default_factory=list, max_length=20)
    materials: list[Material] = Field(default_factory=list, max_length=30)
    origin_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    manufactured_on: date | None = None
    care: str | None = Field(default=None, max_length=2000)
    dpp: ProductPassportEU | None = Field(default=None, description="EU Digital Product Passport fields")
    nfc: list[TagBinding] = Field(default_factory=list, max_length=4, description="NFC tags bound in the content")
    attributes: dict[str, TraitValue] = Field(default_factory=dict, max_length=50)
    collection: Address | None = None
    claimable: bool = Field(default=False, description="ship a claim secret with the item; the buyer claims the twin")

    # Domain checks raise InvalidInput; as ValueError pydantic reports them with their location.
    @field_validator("gtin")
    @classmethod
    def _gtin(cls, v: str) -> str:
        return _located(normalize_gtin, v)

    @field_validator("serial")
    @classmethod
    def _serial(cls, v: str) -> str:
        return _located(validate_serial, v)

    @field_validator("lot")
    @classmethod
    def _lot(cls, v: str | None) -> str | None:
        return None if v is None else _located(lambda text: validate_serial(text, "lot"), v)


class VrmLicense(Strict):
    """VRM 1.0 `meta` licence vocabulary, under its own names."""

    avatarPermission: Literal["onlyAuthor", "onlySeparatelyLicensedPerson", "everyone"] = "onlyAuthor"
    commercialUsage: Literal["personalNonProfit", "personalProfit", "corporation"] = "personalNonProfit"
    allowExcessivelyViolentUsage: bool = False
    allowExcessivelySexualUsage: bool = False
    allowPoliticalOrReligiousUsage: bool = False
    allowAntisocialOrHateUsage: bool = False
    creditNotation: Literal["required", "unnecessary"] = "required"
    allowRedistribution: bool = False
    modification: Literal["prohibited", "allowModification", "allowModificationRedistribution"] = "prohibited"
    licenseUrl: str = "https://vrm.dev/licenses/1.0/"
    otherLicenseUrl: str | None = None


def _body_shape(v: str) -> str:
    """Decentraland's body-shape URN, from it or its short name (BaseMale, BaseFemale)."""
    if v in BODY_SHAPES.values():
        return v
    if v in BODY_SHAPES:
        return BODY_SHAPES[v]
    raise ValueError(f"{v!r} is not a Decentraland body shape ({', '.join(BODY_SHAPES)} or their URNs)")


BodyShape = Annotated[str, AfterValidator(_body_shape)]


class Representation(Strict):
    """One body shape's asset, as Decentraland wearables list them."""

    body_shapes: list[BodyShape] = Field(
        min_length=1,
        max_length=2,
        description="BaseMale/BaseFemale, or urn:decentraland:off-chain:base-avatars:BaseMale/BaseFemale",
    )
    model: CidStr  # a GLB asset uploaded by the brand

    @field_validator("body_shapes")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a body shape is listed twice")
        return v


class PhysicalTwinRef(Strict):
    """The physical twin a virtual one stands for."""

    contract: Address
    token_id: int = Field(gt=0, le=2**63 - 1)


class VirtualTwinIn(Strict):
    kind: Literal["virtual"]
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    representations: list[Representation] = Field(min_length=1, max_length=4)
    preview_image: CidStr
    category: WearableCategory | None = Field(default=None, description="Decentraland's WearableCategory")
    hides: list[HideableCategory] = Field(default_factory=list, max_length=20, description="slots it hides")
    replaces: list[HideableCategory] = Field(default_factory=list, max_length=20, description="slots it replaces")
    removes_default_hiding: list[HideableCategory] = Field(
        default_factory=list, max_length=20, description="Decentraland `removesDefaultHiding`"
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=20)
    profiles: list[Profile] = Field(
        default_factory=list, description="platform profiles every model must meet; the twin is refused otherwise"
    )
    license: VrmLicense = Field(default_factory=VrmLicense)
    physical_twin: PhysicalTwinRef | None = None
    attributes: dict[str, TraitValue] = Field(default_factory=dict, max_length=50)
    collection: Address | None = None
    claimable: bool = Field(default=False, description="the player claims the twin with a secret")

    @model_validator(mode="after")
    def _shapes_once(self) -> VirtualTwinIn:
        shapes = [s for r in self.representations for s in r.body_shapes]
        if len(set(shapes)) != len(shapes):
            raise ValueError("each body shape may have one representation only")
        return self

    def garment(self, label: str) -> GarmentSpec:
        return GarmentSpec(
            label=label,
            category=self.category,
            hides=list(self.hides),
            models=[r.model for r in self.representations],
            required=list(self.profiles),
        )


TwinIn = Annotated[PhysicalTwinIn | VirtualTwinIn, Field(discriminator="kind")]


class BatchIn(Strict):
    twins: list[TwinIn] = Field(min_length=1)


def garments(twins: Sequence[PhysicalTwinIn | VirtualTwinIn]) -> dict[int, GarmentSpec]:
    """The virtual twins of a request by index, as the platform profiles check them."""
    return {i: t.garment(f"twin {i} ({t.name})") for i, t in enumerate(twins) if isinstance(t, VirtualTwinIn)}


def required_assets(twins: Sequence[PhysicalTwinIn | VirtualTwinIn]) -> dict[str, tuple[str, ...]]:
    """The uploaded assets these twins reference, each with the media types it may have."""
    wanted: dict[str, tuple[str, ...]] = {}
    for t in twins:
        if isinstance(t, PhysicalTwinIn):
            wanted.update({cid: IMAGE_TYPES for cid in t.images})
        else:
            wanted[t.preview_image] = IMAGE_TYPES
            wanted.update({r.model: (GLB,) for r in t.representations})
    return wanted


# ---------------------------------------------------------------- answers


class OnChainState(BaseModel):
    exists: bool
    owner: str | None = None
    status: str | None = None
    claimed: bool | None = None
    transfer_policy: str | None = Field(default=None, description="the collection's: open, gift_only or locked")
    movable_from: str | None = Field(
        default=None,
        description="gift_only: the earliest time (ISO 8601 UTC) its owner may gift the twin; null when it "
        "may move now whatever the time (open, or the brand's first delivery) or never (locked)",
    )


class TwinOut(BaseModel):
    """The registry's record of a twin (an index of chain and IPFS)."""

    contract: str
    token_id: int
    kind: str
    name: str
    gtin: str | None
    serial: str | None
    batch_id: int
    token_uri: str
    token_url: str = Field(description="`token_uri` through the https content gateway")
    metadata_cid: str
    directory_cid: str
    tx_hash: str
    block_number: int
    metadata: dict[str, Any] = Field(description="ERC-721 metadata JSON, passport or wearable under `twinmark`")
    content_urls: dict[str, str] = Field(description="the https gateway URL of every `ipfs://` URI in `metadata`")
    verify_url: str
    on_chain: OnChainState | None = Field(default=None, description="live owner and status, read from the chain")
    durability: Durability | None = Field(
        default=None, description="how the twin's content is held by remote pinning services (when configured)"
    )


class TwinList(BaseModel):
    twins: list[TwinOut]


class TwinUpdated(TwinOut):
    update_tx_hash: str
    state: RelayState = Field(
        description="mined (200: the record shows the new content), or pending (202: the record keeps the"
        " current content until the update is mined; follow it at /v1/transactions/{update_tx_hash})"
    )


class PassportImage(BaseModel):
    ipfs: str
    https: str = Field(description="the same content through the HTTP gateway")


class PassportOut(BaseModel):
    """A physical twin's passport, the `gs1:dpp` link of its GS1 Digital Link."""

    contract: str
    token_id: int
    name: str
    description: str
    brand: str | None
    gtin: str
    serial: str | None
    lot: str | None
    digital_link: str
    passport: dict[str, Any] = Field(description="`twinmark.passport` as the twin's content publishes it")
    dpp: dict[str, Any] | None = Field(
        description="EU Digital Product Passport fields (fibre composition, origin steps, care, repair,"
        " recycled content, substances of concern), when the brand gave them"
    )
    images: list[PassportImage]
    metadata_cid: str
    token_uri: str
    verify_url: str
