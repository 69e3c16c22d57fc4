"""Consent: what owners and brands send and get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Field_ = Literal["name", "email", "phone", "language", "preferences"]
Purpose = Literal["care", "events", "news"]


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_name: str = Field(min_length=1, max_length=200, description="The legal entity receiving owners' details")
    recipient_contact: str = Field(min_length=3, max_length=200, description="Where owners exercise their rights")
    recipient_country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2; not CN is abroad (PIPL)")


class ProfileOut(ProfileIn):
    updated_at: datetime


class Contact(BaseModel):
    """The details shared; exactly the consented fields (sealed at rest, deleted on revocation)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$", max_length=254)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 ()-]{4,30}$")
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
    preferences: list[Annotated[str, StringConstraints(min_length=1, max_length=60)]] | None = Field(
        default=None, max_length=20
    )


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: str = Field(max_length=64)
    fields: list[Field_] = Field(min_length=1, max_length=5)
    purpose: Purpose
    mainland_china: bool = Field(default=False, description="The owner lives in mainland China (PIPL)")


class NoticeOut(BaseModel):
    en: str
    zh: str
    digest: str = Field(description="sha256 of `en`, a blank line and `zh`: what the message commits to")


class ConsentToSignOut(BaseModel):
    message: str = Field(description="The EIP-4361 message to sign with personal_sign, unchanged")
    notice: NoticeOut
    expires_at: datetime = Field(description="The consent's end if granted (the message's Expiration Time)")


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=8192)
    signature: str = Field(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=20_000)
    contact: Contact | None = Field(default=None, description="Required for a share consent; none for cross-border")


class ConsentOut(BaseModel):
    id: str
    brand_id: str
    brand_name: str
    kind: str
    parent_id: str | None
    fields: list[str]
    purpose: str
    notice: str
    mainland_china: bool
    signature_kind: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    state: str = Field(
        description="current | needs-cross-border | not-an-owner | recipient-changed | expired | revoked"
    )
    message: str = Field(description="The message exactly as signed (the proof)")


class ExportRow(BaseModel):
    consent_id: str
    address: str
    purpose: str
    granted_at: datetime
    expires_at: datetime
    cross_border: bool = Field(description="A separate PIPL cross-border consent covers this row")
    fields: list[str]
    contact: dict[str, str | list[str]] = Field(description="Exactly the consented fields")


class ExportOut(BaseModel):
    brand_id: str
    at: datetime
    rows: list[ExportRow]
