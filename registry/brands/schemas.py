"""What brand routes take and answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.brands.models import Brand, Collection


class BrandIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    symbol: str = Field(min_length=2, max_length=11, description="collection symbol, upper-case")
    admin_address: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    contract_uri: str = Field(default="", max_length=500, description="ERC-7572 collection metadata URI")
    transfer_policy: Literal["open", "gift_only", "locked"] = Field(
        default="open",
        description="how the collection's twins may change hands; can later only become stricter",
    )
    sender_hold_days: int = Field(
        default=0, ge=0, le=36_500, description="gift_only: days a claimant or first buyer holds before gifting"
    )
    recipient_hold_days: int = Field(
        default=0, ge=0, le=36_500, description="gift_only: days a gift's recipient holds before gifting on"
    )

    no_prices: bool = Field(
        default=False,
        description="a no-secondary-market collection: no price fields accepted in its twins' content or "
        "service records; set here, never cleared",
    )

    def policy(self) -> tuple[int, int, int]:
        """(TransferPolicy, sender hold, recipient hold) as the registry takes them (seconds)."""
        kind = ("open", "gift_only", "locked").index(self.transfer_policy)
        return kind, self.sender_hold_days * 86_400, self.recipient_hold_days * 86_400


class TransferPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transfer_policy: Literal["open", "gift_only", "locked"]
    sender_hold_days: int = Field(default=0, ge=0, le=36_500)
    recipient_hold_days: int = Field(default=0, ge=0, le=36_500)

    def policy(self) -> tuple[int, int, int]:
        kind = ("open", "gift_only", "locked").index(self.transfer_policy)
        return kind, self.sender_hold_days * 86_400, self.recipient_hold_days * 86_400


class TransferPolicyOut(TransferPolicyIn):
    contract: str
    tx_hash: str


class CollectionOut(BaseModel):
    address: str
    name: str
    symbol: str
    no_prices: bool = False


class BrandOut(BaseModel):
    id: str
    name: str
    chain_brand_id: int
    admin_address: str
    collections: list[CollectionOut]

    @classmethod
    def of(cls, brand: Brand, collections: list[Collection]) -> BrandOut:
        return cls(
            id=brand.id,
            name=brand.name,
            chain_brand_id=brand.chain_brand_id,
            admin_address=brand.admin_address,
            collections=[
                CollectionOut(address=c.address, name=c.name, symbol=c.symbol, no_prices=c.no_prices)
                for c in collections
            ],
        )


class BrandCreated(BrandOut):
    api_key: str = Field(description="shown only in this answer; the service keeps its hash")


class CompromiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | int = Field(description="ISO 8601 time or unix seconds, not in the future")

    def unix(self) -> int:
        """`since` in unix seconds (a time without a zone is UTC); any value, even one before 1970: the
        service says which times the registry can hold."""
        if isinstance(self.since, int):
            return self.since
        at = self.since if self.since.tzinfo else self.since.replace(tzinfo=UTC)
        return int(at.timestamp())


class CompromiseOut(BaseModel):
    brand: str
    compromised_since: int
    tx_hash: str
    revoked_keys: int = Field(description="the brand's API keys revoked with it")


class KeyRotated(BaseModel):
    api_key: str = Field(description="the new key, shown only in this answer")
    key_id: str
    revoked_key_id: str = Field(description="the key that made this request: it no longer works")
    claim_secrets_moved: int = Field(description="jobs whose unfetched claim secrets now open with the new key")


class KeyIssued(BaseModel):
    api_key: str = Field(description="shown only in this answer")


class KeysRevoked(BaseModel):
    brand: str
    revoked_keys: int


class CompromiseWindowOut(BaseModel):
    start: int
    end: int | None


class CompromiseResolvedOut(BaseModel):
    brand: str
    windows: list[CompromiseWindowOut]
    tx_hash: str


class AttestationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reference: str = Field(
        min_length=1,
        max_length=200,
        description="an opaque id of the brand's own real-name record of this owner; never the identity itself",
    )


class AttestationOut(BaseModel):
    owner: str
    reference: str
    updated_at: datetime
