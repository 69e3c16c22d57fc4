"""Who qualifies for a privilege, over Twinmark's own indexed facts only.

A twin *carries* a privilege when it is in its scope (one of its collections, of its GTINs, with
one of its tags); its owner *qualifies through it* when the twin also passes the per-twin gates
(claimed, not lost or stolen, owned long enough, serviced recently) and the owner holds at least
`min_held` twins in scope. Pure functions: the queries are in `registry.privileges.eligibility`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry.twins.gs1 import gtin_check_digit

DAY = 86_400
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]

# Why a twin does not qualify (stable codes; the page and the console translate them).
NOT_CLAIMED = "not-claimed"
LOST_OR_STOLEN = "lost-or-stolen"
TOO_RECENT = "owned-too-recently"
NOT_SERVICED = "not-serviced"
TOO_FEW = "holds-too-few"
NOT_STARTED = "not-started"
ENDED = "ended"
REASONS = (NOT_CLAIMED, LOST_OR_STOLEN, TOO_RECENT, NOT_SERVICED, TOO_FEW, NOT_STARTED, ENDED)


class Rules(BaseModel):
    """Eligibility of a privilege. Scope fields left empty do not narrow it (no collections: all the
    brand's); gates default to what a brand usually means by "a verified owner"."""

    model_config = ConfigDict(extra="forbid")

    collections: list[Address] = Field(default_factory=list, max_length=50)
    gtins: list[Annotated[str, Field(pattern=r"^\d{8}$|^\d{12,14}$")]] = Field(default_factory=list, max_length=500)
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=20)
    claimed: bool = Field(default=True, description="the twin left the brand's custody by a claim")
    not_lost_or_stolen: bool = True
    min_days_owned: int | None = Field(default=None, ge=1, le=36_500)
    serviced_within_days: int | None = Field(default=None, ge=1, le=36_500)
    min_held: int = Field(default=1, ge=1, le=10_000, description="twins in scope the owner must hold")

    @field_validator("gtins")
    @classmethod
    def _check_digits(cls, gtins: list[str]) -> list[str]:
        for g in gtins:
            padded = g.zfill(14)
            if gtin_check_digit(padded[:-1]) != int(padded[-1]):
                raise ValueError(f"GTIN {g} has a wrong check digit")
        return [g.zfill(14) for g in gtins]

    @field_validator("tags")
    @classmethod
    def _lower(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(t.strip().lower() for t in tags))

    @field_validator("collections")
    @classmethod
    def _unique(cls, collections: list[str]) -> list[str]:
        return list(dict.fromkeys(collections))


@dataclass(frozen=True)
class TwinFacts:
    """What the index knows about one twin, as the rules read it."""

    collection: str
    token_id: int
    gtin: str | None
    status: int
    claimed: bool
    owner_since: int | None
    last_serviced_at: int | None
    tags: frozenset[str] = frozenset()


def in_scope(rules: Rules, twin: TwinFacts) -> bool:
    """Whether the twin carries the privilege (the collection list was checked against the brand's)."""
    if rules.collections and twin.collection.lower() not in {c.lower() for c in rules.collections}:
        return False
    if rules.gtins and (twin.gtin is None or twin.gtin.zfill(14) not in rules.gtins):
        return False
    return not rules.tags or bool(twin.tags & set(rules.tags))


def twin_gates(rules: Rules, twin: TwinFacts, now: int) -> list[str]:
    """The per-twin gates this twin fails (empty: it passes them all)."""
    failed = []
    if rules.claimed and not twin.claimed:
        failed.append(NOT_CLAIMED)
    if rules.not_lost_or_stolen and twin.status != 0:
        failed.append(LOST_OR_STOLEN)
    if rules.min_days_owned is not None and (
        twin.owner_since is None or now - twin.owner_since < rules.min_days_owned * DAY
    ):
        failed.append(TOO_RECENT)
    if rules.serviced_within_days is not None and (
        twin.last_serviced_at is None or now - twin.last_serviced_at > rules.serviced_within_days * DAY
    ):
        failed.append(NOT_SERVICED)
    return failed


def window_gates(starts_at: int | None, ends_at: int | None, now: int) -> list[str]:
    if starts_at is not None and now < starts_at:
        return [NOT_STARTED]
    if ends_at is not None and now >= ends_at:
        return [ENDED]
    return []
