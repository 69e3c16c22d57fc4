"""Request and response bodies of privileges, redemptions and receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from registry.privileges.rules import Rules

Kind = Literal["redeem_once", "ongoing", "code"]


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    en: str = Field(min_length=1, max_length=200)
    zh: str = Field(min_length=1, max_length=200)


class LongTexts(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    en: str = Field(default="", max_length=4000)
    zh: str = Field(default="", max_length=4000)


class PrivilegeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: Texts
    description: LongTexts = Field(default_factory=LongTexts)
    rules: Rules = Field(default_factory=Rules)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = Field(default=None, ge=1, le=10_000_000, description="redemptions allowed; none: no limit")

    @model_validator(mode="after")
    def _window(self) -> PrivilegeIn:
        for at in (self.starts_at, self.ends_at):
            if at is not None and at.tzinfo is None:
                raise ValueError("times need a time zone (e.g. 2027-01-01T00:00:00Z)")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class PrivilegePatch(BaseModel):
    """Fields to change; the kind stays (codes and redemptions depend on it)."""

    model_config = ConfigDict(extra="forbid")

    name: Texts | None = None
    description: LongTexts | None = None
    rules: Rules | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = Field(default=None, ge=1, le=10_000_000)


class PrivilegeOut(BaseModel):
    id: int
    kind: Kind
    name: Texts
    description: LongTexts
    rules: Rules
    starts_at: datetime | None
    ends_at: datetime | None
    capacity: int | None
    retired: bool
    redeemed: int = Field(description="redemptions so far")
    codes_left: int | None = Field(description="codes not handed out yet (kind `code`)")


class PrivilegeList(BaseModel):
    privileges: list[PrivilegeOut]


class CodesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[str] = Field(min_length=1, max_length=10_000)


class CodesAdded(BaseModel):
    added: int
    duplicates: int = Field(description="codes already uploaded for this privilege, ignored")
    codes_left: int


class RedemptionOut(BaseModel):
    id: int
    privilege_id: int
    collection: str
    token_id: int
    owner: str = Field(description="the owner who redeemed; empty once forgotten (TWINMARK_REDEMPTION_RETENTION_DAYS)")
    actor: str = Field(description="who signed in to redeem (the owner or a delegate); empty once forgotten")
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_venue: str | None
    double_uses: int
    revoked_at: datetime | None
    revoked_reason: str | None


class RedemptionList(BaseModel):
    redemptions: list[RedemptionOut]
    next_cursor: int | None


class TwinPrivilege(BaseModel):
    """One privilege as its owner sees it for one twin."""

    id: int
    kind: Kind
    name: Texts
    description: LongTexts
    eligible: bool
    why_not: list[str] = Field(description="stable reasons: not-claimed, lost-or-stolen, owned-too-recently, ...")
    redeemed: bool
    receipt: str | None = Field(description="the signed receipt (shown as a QR), once redeemed")
    code: str | None = Field(description="the discount code handed out (kind `code`), once redeemed")


class OwnedTwin(BaseModel):
    collection: str
    token_id: int
    name: str
    privileges: list[TwinPrivilege]


class MyPrivileges(BaseModel):
    owner: str = Field(description="whose twins: the signed-in address, or the vault it acts for")
    acting_as_delegate: bool
    twins: list[OwnedTwin]


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    token_id: int = Field(gt=0, le=2**63 - 1)
    vault: str | None = Field(
        default=None, pattern=r"^0x[0-9a-fA-F]{40}$", description="the cold wallet this address is a delegate of"
    )


class Redeemed(BaseModel):
    redemption_id: int
    receipt: str = Field(description="tmr1.<payload>.<signature>: show it as a QR (GET /v1/receipts/qr)")
    expires_at: datetime
    code: str | None


class HolderTwin(BaseModel):
    collection: str
    token_id: int
    eligible: bool
    why_not: list[str]


class Holder(BaseModel):
    """Whether an address qualifies for a privilege now (an ongoing one is checked this way)."""

    privilege_id: int
    owner: str
    eligible: bool = Field(description="through at least one twin it holds")
    twins: list[HolderTwin]


class CarriedPrivilege(BaseModel):
    id: int
    kind: Kind
    name: Texts


class CarriedPrivileges(BaseModel):
    privileges: list[CarriedPrivilege]


class ReceiptKeyOut(BaseModel):
    address: str = Field(description="pin it: every receipt is signed by this key")
    chain_id: int
    domain: dict[str, str | int]


class ReceiptCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt: str = Field(min_length=10, max_length=2000)
    venue: str = Field(default="", max_length=100)


class ReceiptVerdict(BaseModel):
    ok: bool
    reason: str = Field(description="accepted, forged, expired, used, revoked, unknown")
    privilege_id: int | None = None
    collection: str | None = None
    token_id: int | None = None
    owner: str | None = None
    used_at: datetime | None = None


class UseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt: str = Field(min_length=10, max_length=2000)
    venue: str = Field(default="", max_length=100)
    used_at: int = Field(ge=0, le=2**40, description="unix seconds the venue accepted it")


class UsesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uses: list[UseIn] = Field(max_length=5_000)


class UseOut(BaseModel):
    nonce: str | None
    outcome: Literal["first", "double", "already-known", "forged", "unknown"]


class UsesOut(BaseModel):
    uses: list[UseOut]
