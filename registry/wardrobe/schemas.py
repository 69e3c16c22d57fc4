"""A player's wearables as a game loads them: one page of the twins an address owns, each item
game-ready (representations per body shape with https GLB URLs, CIDs, sizes, counts), and the block
the answer is valid at."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Block(BaseModel):
    number: int
    hash: str | None = Field(description="None only before the index reached any block")


class ContentFile(BaseModel):
    """A file on IPFS: its CID (hash of the bytes: check what you downloaded) and https URL."""

    cid: str
    uri: str = Field(description="`ipfs://{cid}`")
    url: str = Field(description="the https URL through the content gateway")
    size: int | None = Field(description="bytes, from the brand's upload; None when not uploaded here")
    media_type: str | None = None


class ModelFile(ContentFile):
    triangles: int | None = Field(default=None, description="glTF Validator's count; None when not known")
    vertices: int | None = None
    materials: int | None = None
    textures: int | None = None
    draw_calls: int | None = None


class RepresentationOut(BaseModel):
    """One asset for the listed body shapes (Decentraland's representations)."""

    body_shapes: list[str]
    main_file: ModelFile
    content_type: str | None = None


class BrandRef(BaseModel):
    id: str | None = Field(description="the brand's id here; None for a brand not served by this registry")
    name: str | None


class WardrobeTwinRef(BaseModel):
    """The physical twin a listed virtual one stands for."""

    contract: str
    token_id: int


class WardrobeItem(BaseModel):
    contract: str
    token_id: int
    kind: Literal["physical", "virtual"] | str
    name: str
    brand: BrandRef
    category: str | None
    representations: list[RepresentationOut]
    preview: ContentFile | None
    license: dict[str, Any] | None = Field(description="VRM 1.0 `meta` licence fields, under their own names")
    physical_twin: WardrobeTwinRef | None
    status: str = Field(description="active, lost or stolen")
    stolen: bool
    metadata_cid: str
    token_uri: str
    verify_url: str
    malformed: bool = Field(
        default=False,
        description="the twin's indexed metadata could not be read: listed from its registry record only",
    )


class Moved(BaseModel):
    """An indexed item the chain head says this address no longer holds (`fresh=true`)."""

    contract: str
    token_id: int
    chain_owner: str | None = Field(description="the owner at the head; None when the twin was destroyed")


class FreshCheck(BaseModel):
    head: Block = Field(description="the chain head every listed item's owner and status were re-read at")
    moved: list[Moved] = Field(description="items dropped from this page: the head names another owner")


class WardrobePage(BaseModel):
    owner: str
    valid_at: Block = Field(description="the block the index (and so this answer) is current to")
    items: list[WardrobeItem]
    next_cursor: str | None = Field(description="opaque: pass as `cursor` for the next page; None on the last page")
    fresh: FreshCheck | None = Field(default=None, description="with `fresh=true`: the re-check at the chain head")
