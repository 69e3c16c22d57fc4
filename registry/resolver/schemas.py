"""Answers of the resolver side: the resolver description file, linksets, the passport (gs1:dpp)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from registry.resolver.links import GS1_VOC


class LinkTypeNamespace(BaseModel):
    namespace: str
    prefix: str


class ResolverDescription(BaseModel):
    """The resolver description file at `/.well-known/gs1resolver` (GS1-Conformant Resolver 1.2)."""

    name: str
    resolverRoot: str
    supportedPrimaryKeys: list[str]
    supportedLinkType: list[LinkTypeNamespace]
    linkTypeDefaultCanBeLinkset: bool
    supportsLanguageVariants: bool
    supportsSemanticInterpretation: bool
    validatesAIcombinations: bool
    activeLinkTypes: dict[str, dict[str, dict[str, str]]] = Field(
        description="the GS1 link types this resolver answers, by language then CURIE: title and vocabulary URL"
    )


class LinkTarget(BaseModel):
    model_config = ConfigDict(extra="allow")
    href: str
    title: str
    type: str | None = None
    hreflang: list[str] | None = None


class LinksetEntry(BaseModel):
    """One link context: `anchor`, `itemDescription`, and one list of targets per link relation
    (GS1 link types as full URIs, e.g. `https://ref.gs1.org/voc/pip`)."""

    model_config = ConfigDict(extra="allow")
    anchor: str
    itemDescription: str


class Linkset(BaseModel):
    """RFC 9264 `application/linkset+json`, valid against the GS1 resolver's linkset schema."""

    linkset: list[LinksetEntry]


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


ACTIVE_LINK_TYPES = {
    "pip": "Product information page (the verification page)",
    "certificationInfo": "Certification information (the authenticity verdict)",
    "dpp": "Digital product passport",
    "masterData": "Master data (the twins of a product class)",
    "defaultLink": "Default link",
}


def description(base_url: str) -> ResolverDescription:
    return ResolverDescription(
        name="Twinmark GS1-Conformant resolver",
        resolverRoot=base_url.rstrip("/"),
        supportedPrimaryKeys=["01"],
        supportedLinkType=[LinkTypeNamespace(namespace=GS1_VOC, prefix="gs1:")],
        linkTypeDefaultCanBeLinkset=False,
        supportsLanguageVariants=False,
        supportsSemanticInterpretation=False,
        validatesAIcombinations=True,
        activeLinkTypes={
            "en": {f"gs1:{name}": {"title": title, "url": GS1_VOC + name} for name, title in ACTIVE_LINK_TYPES.items()}
        },
    )
