"""What the rules read and answer: a scan as the rules see it (`ScanFact`, with who made it counted
coarsely: a *visitor*, a *crowd*), the twin's state, the context of one evaluation, a finding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from registry.alerts.policy import Policy

STOLEN = 2  # registry.chain.layout.Status.stolen


@dataclass(frozen=True, slots=True)  # slots: the engine keeps many (no per-instance dict)
class ScanFact:
    """The fields of a `scans` row the rules read."""

    id: int
    at: datetime
    channel: str
    arrival: str | None = None
    tag_kind: str | None = None
    tag_id: str | None = None
    counter: int | None = None
    valid: bool | None = None
    evidence: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    network: str | None = None
    session: str | None = None

    @property
    def visitor(self) -> str:
        return f"s:{self.session}" if self.session else f"n:{self.network}" if self.network else f"#{self.id}"

    @property
    def crowd(self) -> str:
        return f"n:{self.network}" if self.network else f"s:{self.session}" if self.session else f"#{self.id}"

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def tap(self) -> bool:
        return self.channel == "tap" or self.tag_kind is not None

    @property
    def qr(self) -> bool:
        return self.channel == "resolver" or (self.channel == "page" and self.arrival == "qr")

    def evidence_code(self) -> str | None:
        """The tap verdict's code the recorder kept with the evidence ("malformed", "forged", ...), if any."""
        try:
            doc = json.loads(self.evidence) if self.evidence else None
        except ValueError:
            return None
        code = doc.get("code") if isinstance(doc, dict) else None
        return code if isinstance(code, str) else None


@dataclass(frozen=True)
class TwinState:
    """The twin as the index knows it (chain events folded), with what the rules need beside it."""

    collection: str
    token_id: int
    brand_id: str
    owner: str | None = None
    status: int = 0
    claimed: bool = False
    burned: bool = False
    sold: bool = False  # claimed, or transferred since its mint
    claimed_at: datetime | None = None
    nfc_bound: bool = False
    compromised: bool | None = None  # minted inside a compromise window of its brand; None: not known


@dataclass(frozen=True)
class Context:
    state: TwinState
    scans: Sequence[ScanFact]  # the twin's recent scans, oldest first, the new ones included
    new: frozenset[int]  # ids of the scans this batch brought
    policy: Policy
    now: datetime
    seen_countries: frozenset[str] = frozenset()  # the collection's countries before this batch
    located_history: int = 0  # the collection's located scans before this batch

    def recent(self, hours: float) -> list[ScanFact]:
        since = self.now - timedelta(hours=hours)
        return [s for s in self.scans if s.at >= since]

    def fresh(self, scans: Sequence[ScanFact]) -> bool:
        return any(s.id in self.new for s in scans)


@dataclass(frozen=True)
class Finding:
    rule: str
    scans: tuple[int, ...]
    facts: dict[str, Any] = field(default_factory=dict)
