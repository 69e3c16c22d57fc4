"""Checking garments against the platform profiles a brand chose, before anything is minted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from registry.assets.service import asset_stats
from registry.errors import InvalidInput
from registry.wearables.profiles import PROFILES, Garment, Model, evaluate


@dataclass(frozen=True)
class GarmentSpec:
    """A virtual twin as the profiles see it: `label` names it in messages ("twin 3 (Trench)")."""

    label: str
    category: str | None
    hides: list[str]
    models: list[str]  # CIDs of its representations' GLBs
    required: list[str] = field(default_factory=list)  # profiles it must meet


def check_garments(session: Session, specs: Sequence[GarmentSpec]) -> list[list[str]]:
    """The profiles each garment meets, in PROFILES order; InvalidInput listing every failed rule
    of every required profile (`failures`: twin, profile, message) when one is not met."""
    stats = asset_stats(session, [cid for spec in specs for cid in spec.models])
    failures: list[dict[str, str]] = []
    meets: list[list[str]] = []
    for spec in specs:
        unknown = [cid for cid in dict.fromkeys(spec.models) if cid not in stats]
        if unknown:
            reason = f"model {unknown[0]} was uploaded before models were validated: upload the same file again"
            results = {name: [reason] for name in PROFILES}
        else:
            results = evaluate(Garment(spec.category, spec.hides, [Model(cid, stats[cid]) for cid in spec.models]))
        meets.append([name for name in PROFILES if not results[name]])
        for name in dict.fromkeys(spec.required):
            failures += [{"twin": spec.label, "profile": name, "message": m} for m in results[name]]
    if failures:
        lines = [f"{f['twin']} does not meet {f['profile']}: {f['message']}" for f in failures[:10]]
        more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
        raise InvalidInput("; ".join(lines) + more, failures=failures)
    return meets
