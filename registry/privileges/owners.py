"""What an owner sees: each twin they hold (or a vault that delegated to them holds) with every
privilege it carries, whether they qualify and why not, and what they already redeemed."""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from sqlmodel import Session, col, select

from registry.chain.client import TwinmarkChain
from registry.db.pairs import pairs_in
from registry.privileges import delegation
from registry.privileges.eligibility import evaluate
from registry.privileges.models import PrivilegeCode, Redemption
from registry.privileges.refusals import NotADelegate
from registry.privileges.schemas import LongTexts, MyPrivileges, OwnedTwin, Texts, TwinPrivilege
from registry.privileges.service import open_code
from registry.settings import Settings


def my_privileges(
    s: Session,
    *,
    chain: TwinmarkChain,
    settings: Settings,
    server_key: str,
    actor: str,
    vault: str | None,
    now: int,
) -> MyPrivileges:
    owner = actor if vault is None or vault.lower() == actor.lower() else to_checksum_address(vault)
    twins = evaluate(s, owner, now)
    if owner != actor:
        pairs = [(t.held.facts.collection, t.held.facts.token_id) for t in twins]
        allowed = delegation.delegated_twins(chain, settings.privilege_delegate_registry, actor, owner, pairs)
        if not allowed:
            raise NotADelegate(f"{owner} has not delegated to {actor}")
        twins = [t for t in twins if (t.held.facts.collection, t.held.facts.token_id) in allowed]
    redeemed: dict[tuple[int, str, int], Redemption] = {}
    pairs = [(t.held.facts.collection, t.held.facts.token_id) for t in twins if t.verdicts]
    for i in range(0, len(pairs), 500):
        query = select(Redemption).where(
            pairs_in(col(Redemption.collection), col(Redemption.token_id), pairs[i : i + 500])
        )
        for row in s.exec(query):
            redeemed[(row.privilege_id, row.collection, row.token_id)] = row
    codes = {c.id: c for c in _codes(s, [r.code_id for r in redeemed.values() if r.code_id is not None])}
    out = []
    for t in twins:
        entries = []
        for v in t.verdicts:
            p = v.privilege
            assert p.id is not None
            r: Redemption | None = redeemed.get((p.id, t.held.facts.collection, t.held.facts.token_id))
            mine = r is not None and r.owner.lower() == owner.lower()  # a former owner's receipt is not shown
            code = codes.get(r.code_id) if r is not None and mine and r.code_id is not None else None
            entries.append(
                TwinPrivilege(
                    id=p.id,
                    kind=p.kind,  # type: ignore[arg-type]
                    name=Texts(en=p.name_en, zh=p.name_zh),
                    description=LongTexts(en=p.description_en, zh=p.description_zh),
                    eligible=v.eligible and r is None,
                    why_not=v.failed + (["already-redeemed"] if r is not None else []),
                    redeemed=r is not None,
                    receipt=r.receipt if r is not None and mine and r.revoked_at is None else None,
                    code=open_code(server_key, code) if code is not None else None,
                )
            )
        out.append(
            OwnedTwin(
                collection=t.held.facts.collection, token_id=t.held.facts.token_id, name=t.held.name, privileges=entries
            )
        )
    return MyPrivileges(owner=owner, acting_as_delegate=owner != actor, twins=out)


def _codes(s: Session, ids: list[int]) -> list[PrivilegeCode]:
    return list(s.exec(select(PrivilegeCode).where(col(PrivilegeCode.id).in_(ids)))) if ids else []
