"""Thresholds: defaults here, a brand's overrides, a collection's over the brand's. A threshold is
met at its value ("3 countries" fires at 3). Defaults lean towards silence: a false alert on a
genuine buyer costs more than a late one on a copy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

RULES = (
    "blacklisted",
    "counterfeit",
    "off-market",
    "after-sell-by",
    "anomaly",
    "already-consumed",
    "exceptional-country",
    "scan-count",
    "inactive",
    "session-count",
    "nfc-counter",
    "impossible-travel",
    "tap-before-sale",
    "stolen",
    "copied-label",
    "burned-scanned",
)


class Policy(BaseModel):
    """Every threshold, with its default. "Crowds" are distinct networks (IPv4 /24, IPv6 /48; a scan
    without one counts as its session): many sessions behind one shop's or one campus's network are
    one crowd, so a shared network never looks like many copies."""

    model_config = ConfigDict(extra="forbid")

    disabled: list[str] = Field(default=[], description="rules this brand or collection does not want")
    markets: list[str] = Field(
        default=[], description="intended markets (ISO 3166-1 alpha-2); none: no off-market rule"
    )
    sell_by: AwareDatetime | None = Field(default=None, description="unsold twins scanned after it: after-sell-by")
    released_at: AwareDatetime | None = Field(default=None, description="twins scanned before it: inactive")
    off_market_crowds: int = Field(
        default=2, ge=1, description="people scanning outside the markets (distinct visitors on distinct networks)"
    )
    off_market_days: int = Field(default=30, ge=1, le=365)
    anomaly_countries: int = Field(default=3, ge=2, description="countries (one per visitor) within anomaly_hours")
    anomaly_hours: float = Field(default=2.0, gt=0, le=72)
    travel_unsold: bool = Field(
        default=False,
        description="also apply anomaly and impossible-travel to twins not yet claimed or sold: off by default,"
        " as shoppers' roaming phones locate to their home countries, so one shop looks like many countries",
    )
    travel_kmh: float = Field(default=1_000.0, gt=0, description="speed between two visitors' scans above which")
    travel_min_km: float = Field(default=500.0, ge=0, description="nearer scans never count (IP locations are coarse)")
    clock_skew_seconds: int = Field(default=300, ge=0, le=3600, description="added to every time gap")
    consumed_crowds: int = Field(default=3, ge=1, description="crowds scanning a claimed twin within consumed_days")
    consumed_days: int = Field(default=7, ge=1, le=365)
    exceptional_min_history: int = Field(
        default=100, ge=0, description="located scans a collection needs, in countries known before exceptional_days"
    )
    exceptional_visitors: int = Field(
        default=2, ge=1, description="people (distinct visitors on distinct networks) scanning from the new country"
    )
    exceptional_days: int = Field(default=30, ge=1, le=365, description="how long a country stays new")
    scan_count: int = Field(default=30, ge=2, description="visits (a visitor's re-scans within rescan_minutes: one)")
    scan_count_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    rescan_minutes: float = Field(default=30.0, ge=0, le=24 * 60)
    session_count: int = Field(default=10, ge=2, description="crowds within session_count_hours")
    session_count_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    unsold_tap_crowds: int = Field(default=3, ge=1, description="crowds tapping a twin not yet claimed or sold")
    unsold_tap_days: int = Field(default=7, ge=1, le=365)
    copied_label_crowds: int = Field(default=5, ge=1, description="crowds scanning the QR of an NFC twin, no tap")
    copied_label_days: int = Field(default=7, ge=1, le=365)
    copied_label_km: float = Field(
        default=100.0, ge=0, description="a valid tap vouches for the QR scans this near it (and its own network's)"
    )
    unknown_serial_lookups: int = Field(default=10, ge=1, description="lookups of serials no twin has")
    unknown_serial_crowds: int = Field(default=3, ge=1, description="crowds those lookups came from")
    unknown_serial_hours: float = Field(default=24.0, gt=0, le=24 * 30)

    @field_validator("disabled")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rules {unknown}; rules are {', '.join(RULES)}")
        return value

    @field_validator("markets")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        out = [c.strip().upper() for c in value]
        if any(len(c) != 2 or not c.isalpha() for c in out):
            raise ValueError("markets are ISO 3166-1 alpha-2 country codes")
        return out

    def on(self, rule: str) -> bool:
        return rule not in self.disabled


class PolicyPatch(Policy):
    """Only the fields a brand sets; the others stay inherited."""


def merged(*layers: dict[str, Any]) -> Policy:
    """Defaults, then each layer's set fields over the ones before (brand, then collection)."""
    values: dict[str, Any] = {}
    for layer in layers:
        values |= layer
    return Policy.model_validate(values)


def horizon(policy: Policy) -> float:
    """Hours of history the windowed rules look back."""
    days = max(
        policy.off_market_days,
        policy.consumed_days,
        policy.unsold_tap_days,
        policy.copied_label_days,
        policy.exceptional_days,
    )
    return max(days * 24.0, policy.scan_count_hours, policy.session_count_hours, policy.anomaly_hours)


def stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
