"""The verification page's view model: what the template shows and what the page's script needs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class CheckView(BaseModel):
    name: str
    ok: bool
    title: str  # the question the check answers, in plain words
    explanation: str  # what its result means for the buyer
    detail: str  # the verifier's technical detail (CIDs, blocks), untranslated


class TapView(BaseModel):
    """The result of an NFC tap that led to the page (filled in by the NFC flow)."""

    kind: Literal["ntag424", "halo"]
    genuine: bool
    fresh: bool
    counter: int | None = None
    detail: str = ""
    tapped_at: int | None = None  # Unix seconds the tap was checked at (set by its ticket)


# Why a tap ticket shows no verdict: made for another browser (or forged), or too old.
TapRefusal = Literal["other-browser", "expired"]


class Row(BaseModel):
    """One labelled line of the product details or the DPP block."""

    label: str
    values: list[str]
    link: str | None = None  # an https URL the value links to


class ServiceView(BaseModel):
    provider: str
    record_cid: str
    record_url: str
    block_time: str


class LanguageLink(BaseModel):
    lang: str
    name: str  # in its own language
    href: str
    current: bool


class CautionView(BaseModel):
    """What unusual scans of the twin were seen, while an alert on them is open (never "fake")."""

    rule: str
    text: str  # in the page's language


class PageModel(BaseModel):
    lang: str
    texts: dict[str, str]
    languages: list[LanguageLink] = Field(default_factory=list)
    contract: str
    token_id: int
    found: bool  # the token exists (else the page shows the failed verdict only)
    name: str | None = None
    description: str = ""
    kind: str | None = None
    brand: str | None = None
    images: list[str] = Field(default_factory=list)  # https gateway URLs
    authentic: bool
    verdict_lead: str
    checks: list[CheckView]
    status: str | None = None  # active, lost, stolen
    owner: str | None = None
    owner_since: str | None = None
    owners: int | None = None
    unclaimed: bool = False
    transfer_note: str | None = None  # the collection's transfer policy, in words: "can be gifted from ..."
    service: list[ServiceView] = Field(default_factory=list)
    details: list[Row] = Field(default_factory=list)
    dpp: list[Row] = Field(default_factory=list)
    nfc: list[str] = Field(default_factory=list)
    tap: TapView | None = None
    tap_time: str | None = None  # when the tap was checked, and how long ago, in words
    tap_refusal: TapRefusal | None = None  # a tap ticket came with the page, but shows no verdict
    caution: CautionView | None = None  # set per request (`caution_view`), never cached with the page
    config: dict[str, Any]  # for the page's script (serialised into the page)
