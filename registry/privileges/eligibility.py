"""Evaluating one owner: their twins (one range of `ix_twins_owner_collection_token`), the live
privileges of those twins' brands (one query), and the tags of their twins when a privilege asks for
tags (one more); the rules are then Python over those rows. Ownership is read now, from the index:
a transfer ends the old owner's privileges at the next indexed block."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.db.pairs import pairs_in
from registry.privileges.models import Privilege
from registry.privileges.rules import TOO_FEW, Rules, TwinFacts, in_scope, twin_gates, window_gates
from registry.twins.models import Twin, TwinTag


@dataclass(frozen=True)
class Held:
    facts: TwinFacts
    brand_id: str | None
    name: str


@dataclass
class Verdict:
    privilege: Privilege
    failed: list[str]

    @property
    def eligible(self) -> bool:
        return not self.failed


@dataclass
class TwinVerdicts:
    held: Held
    verdicts: list[Verdict] = field(default_factory=list)


def holdings(s: Session, owner: str, pairs: list[tuple[str, int]] | None = None) -> list[Held]:
    """The owner's twins (not burned) as the rules read them; `pairs`: only these."""
    query = sa_select(
        col(Twin.collection),
        col(Twin.token_id),
        col(Twin.brand_id),
        col(Twin.name),
        col(Twin.gtin),
        col(Twin.status),
        col(Twin.claimed),
        col(Twin.owner_since),
        col(Twin.last_serviced_at),
    ).where(col(Twin.owner) == owner, col(Twin.burned).is_(False))
    if pairs is not None:
        query = query.where(pairs_in(col(Twin.collection), col(Twin.token_id), pairs))
    return [
        Held(TwinFacts(c, t, g, st, cl, since, serviced), b, n)
        for c, t, b, n, g, st, cl, since, serviced in s.execute(
            query.order_by(col(Twin.collection), col(Twin.token_id))
        )
    ]


def live_privileges(s: Session, brand_ids: set[str]) -> list[tuple[Privilege, Rules]]:
    if not brand_ids:
        return []
    rows = s.exec(
        select(Privilege)
        .where(col(Privilege.brand_id).in_(sorted(brand_ids)), col(Privilege.retired_at).is_(None))
        .order_by(col(Privilege.id))
    )
    return [(p, Rules.model_validate_json(p.rules)) for p in rows]


def _with_tags(s: Session, held: list[Held]) -> list[Held]:
    tags: dict[tuple[str, int], set[str]] = defaultdict(set)
    pairs = [(h.facts.collection, h.facts.token_id) for h in held]
    for i in range(0, len(pairs), 500):
        query = select(TwinTag).where(pairs_in(col(TwinTag.collection), col(TwinTag.token_id), pairs[i : i + 500]))
        for row in s.exec(query):
            tags[(row.collection, row.token_id)].add(row.tag)
    return [Held(replace(h.facts, tags=frozenset(tags[_key(h)])), h.brand_id, h.name) for h in held]


def evaluate(s: Session, owner: str, now: int) -> list[TwinVerdicts]:
    """For each twin the owner holds, every live privilege of its brand that it carries, with the
    gates it fails (none: the owner may use it through this twin)."""
    held = holdings(s, owner)
    privileges = live_privileges(s, {h.brand_id for h in held if h.brand_id})
    if any(rules.tags for _, rules in privileges):
        held = _with_tags(s, held)
    scope: dict[int, set[tuple[str, int]]] = {}
    for p, rules in privileges:
        assert p.id is not None
        scope[p.id] = {_key(h) for h in held if h.brand_id == p.brand_id and in_scope(rules, h.facts)}
    out = []
    for h in held:
        verdicts = []
        for p, rules in privileges:
            assert p.id is not None
            if _key(h) not in scope[p.id]:
                continue
            failed = window_gates(p.starts_at, p.ends_at, now) + twin_gates(rules, h.facts, now)
            if len(scope[p.id]) < rules.min_held:
                failed.append(TOO_FEW)
            verdicts.append(Verdict(p, failed))
        out.append(TwinVerdicts(h, verdicts))
    return out


def _key(h: Held) -> tuple[str, int]:
    return h.facts.collection, h.facts.token_id


def carried(s: Session, collection: str, token_id: int, now: int) -> list[Privilege]:
    """The live privileges a twin carries (scope only: whoever owns it; not ended), for the buyer's page."""
    twin = s.get(Twin, (collection, token_id))
    if twin is None or twin.brand_id is None or twin.burned:
        return []
    facts = TwinFacts(
        twin.collection, twin.token_id, twin.gtin, twin.status, twin.claimed, twin.owner_since, twin.last_serviced_at
    )
    privileges = live_privileges(s, {twin.brand_id})
    if any(rules.tags for _, rules in privileges):
        tags = s.exec(select(TwinTag.tag).where(TwinTag.collection == collection, TwinTag.token_id == token_id))
        facts = replace(facts, tags=frozenset(tags))
    return [p for p, rules in privileges if in_scope(rules, facts) and (p.ends_at is None or p.ends_at > now)]


def holder(s: Session, privilege: Privilege, owner: str, now: int) -> list[tuple[Held, list[str]]]:
    """The owner's twins that carry `privilege`, each with the gates it fails."""
    return [
        (tv.held, v.failed) for tv in evaluate(s, owner, now) for v in tv.verdicts if v.privilege.id == privilege.id
    ]
