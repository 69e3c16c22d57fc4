"""Answers of the resolver side: the resolver description file and linksets (the passport, its gs1:dpp
target, is a twin's view: `registry.twins.schemas.PassportOut`)."""

from __future__ import annotations

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
