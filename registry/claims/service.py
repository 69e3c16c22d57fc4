"""Claim secrets handed to the brand once, and claims relayed for buyers who hold no gas."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypedDict

from sqlmodel import Session, col, select

from registry.auth.service import Caller
from registry.auth.vault import seal, unseal
from registry.chain import typed_data
from registry.chain.client import RelayState, TwinmarkChain
from registry.chain.layout import Status
from registry.chain.reads import ChainLog
from registry.chain.refusals import AlreadyClaimed, NotClaimable, TwinStolen
from registry.claims.keys import claim_key
from registry.claims.merkle import ClaimTree
from registry.claims.models import ClaimVault
from registry.claims.schemas import ClaimSecret
from registry.db import ratelimit
from registry.db.ratelimit import Limit
from registry.errors import (
    Conflict,
    ContentIntegrityError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
)
from registry.twins.gs1 import digital_link
from registry.twins.models import Twin

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


class WrongClaimSecret(Forbidden):
    code, title = "wrong-claim-secret", "Wrong claim secret"


class SealedSecret(TypedDict):
    """One twin's claim secret as a job keeps it sealed until the brand fetches it."""

    index: int  # the twin's place in the request
    name: str
    gtin: str | None
    serial: str | None
    collection: str
    claim_key: str  # the address derived from the secret: what the twin's row keeps in clear
    secret: str


def seal_secrets(session: Session, job_id: str, caller: Caller, entries: list[SealedSecret]) -> None:
    """Keeps a job's claim secrets sealed under the submitting key until the brand fetches them once."""
    sealed = seal(caller.key, f"claims:{job_id}", json.dumps(entries).encode())
    session.add(ClaimVault(job_id=job_id, api_key_id=caller.key_id, sealed=sealed))


def reseal(session: Session, old: Caller, new_key: str, new_key_id: str) -> int:
    """Moves the unfetched claim secrets sealed under `old`'s key to a rotated key (while both are
    known, in the rotating request); returns how many jobs' secrets moved."""
    vaults = session.exec(select(ClaimVault).where(ClaimVault.api_key_id == old.key_id)).all()
    for vault in vaults:
        salt = f"claims:{vault.job_id}"
        vault.sealed = seal(new_key, salt, unseal(old.key, salt, vault.sealed))
        vault.api_key_id = new_key_id
    return len(vaults)


def has_secrets(session: Session, job_id: str) -> bool:
    return session.get(ClaimVault, job_id) is not None


def fetch_secrets(session: Session, job_id: str, job_state: str, *, caller: Caller, base_url: str) -> list[ClaimSecret]:
    """The job's claim secrets, once: they are deleted as they are handed over."""
    vault = session.get(ClaimVault, job_id)
    if vault is None:
        raise Gone("this job's claim secrets were already handed over (or it has none); they are not kept")
    if job_state != "completed":
        raise Conflict(f"claim secrets are handed over once the job is completed (it is {job_state})")
    if vault.api_key_id != caller.key_id:
        raise Forbidden("fetch the claim secrets with the API key that submitted the job")
    entries: list[SealedSecret] = json.loads(unseal(caller.key, f"claims:{job_id}", vault.sealed))
    by_key = {
        t.claim_key: t
        for t in session.exec(select(Twin).where(Twin.job_id == job_id, col(Twin.claim_key).is_not(None)))
    }
    out = []
    for entry in entries:
        twin = by_key[entry["claim_key"]]
        page = (
            digital_link(base_url, twin.gtin, twin.serial)
            if twin.gtin and twin.serial
            else f"{base_url}/v1/twins/{twin.collection}/{twin.token_id}"
        )
        out.append(
            ClaimSecret(
                contract=twin.collection,
                token_id=twin.token_id,
                name=twin.name,
                gtin=twin.gtin,
                serial=twin.serial,
                secret=entry["secret"],
                # The secret rides in the fragment, which browsers never send to a server.
                claim_url=f"{page}#claim={entry['secret']}",
            )
        )
    session.delete(vault)
    return out


# Secrets carry >= 128 bits: guessing is hopeless, so limits only slow a guesser down and must never
# refuse the real buyer. Only wrong secrets are counted and only wrong secrets are refused: per client
# and twin (typos), per client, per recipient, and under one high per-twin ceiling. A right secret
# passes whatever others' guesses filled (a shop's Wi-Fi, a carrier's NAT share one address).
CLIENT_TWIN = Limit("claim-failures:client-twin", MAX_FAILURES, WINDOW, "wrong secrets for this twin from this client")
CLIENT = Limit("claim-failures:client", 50, WINDOW, "wrong claim secrets from this client")
RECIPIENT = Limit("claim-failures:recipient", 20, WINDOW, "wrong claim secrets for this recipient")
TWIN = Limit("claim-failures:twin", 100, WINDOW, "wrong secrets for this twin")


def _limits(client: str, recipient: str, contract: str, token_id: int) -> list[tuple[Limit, str]]:
    twin = f"{contract}/{token_id}"
    return [(CLIENT_TWIN, f"{client} {twin}"), (CLIENT, client), (RECIPIENT, recipient), (TWIN, twin)]


@dataclass(frozen=True)
class ClaimResult:
    contract: str
    token_id: int
    owner: str
    tx_hash: str
    state: RelayState
    replayed: bool = False  # the answer of a claim already mined for this recipient, given again


History = Callable[[str, int], Sequence[ChainLog]]
"""A token's events, oldest first (the index and the blocks beyond it: `registry.provenance.history`)."""


def claimed_in(logs: Sequence[ChainLog]) -> tuple[str, str] | None:
    """(tx hash, recipient) of the twin's claim: the `Claimed` log names no address, the `Transfer`
    of its own transaction does."""
    claim_txs = {log.tx_hash for log in logs if log.name == "Claimed"}
    for log in logs:
        if log.name == "Transfer" and log.tx_hash in claim_txs:
            return log.tx_hash, str(log.args["to"])
    return None


def _replay(history: History, contract: str, token_id: int, recipient: str, owner: str) -> ClaimResult:
    """The answer to a claim of a twin already claimed, asked with the right secret: the first answer
    again when the claim went to this recipient and they still own the twin (a retry whose answer was
    lost); `AlreadyClaimed` otherwise (another recipient, or the twin has moved on since: the answer
    describes the twin as it is, and `owner` would no longer be true)."""
    found = claimed_in(history(contract, token_id))
    if found is None or found[1].lower() != recipient.lower():
        raise AlreadyClaimed("the twin was already claimed")
    tx_hash = found[0]
    if owner.lower() != recipient.lower():
        raise AlreadyClaimed(
            f"the twin was claimed for this recipient in {tx_hash} and has moved since", tx_hash=tx_hash
        )
    return ClaimResult(contract, token_id, owner=recipient, tx_hash=tx_hash, state="mined", replayed=True)


def claim(
    session: Session,
    chain: TwinmarkChain,
    *,
    contract: str,
    token_id: int,
    secret: str,
    recipient: str,
    client: str,
    history: History,
) -> ClaimResult:
    """Derives the claim key from the secret, signs the claim for `recipient` and relays it. A claim not
    mined within the relay wait is answered pending: nothing is recorded as failed, and asking again
    for the same recipient follows the same transaction (for another recipient: `TransactionPending`).
    Asked again once mined (the first answer lost), the same secret and recipient get the same answer
    (`replayed`); the secret is checked first, so this answers nothing a wrong secret could learn.
    Limits count and refuse wrong secrets only: a right one is never refused by them."""
    twin = session.get(Twin, (contract, token_id))
    if twin is None:
        raise NotFound(f"no twin {token_id} in {contract}")
    if twin.claim_key is None:
        raise NotClaimable("the twin was minted without a claim secret")
    try:
        key = claim_key(secret, chain.chain_id, contract)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if key.address != twin.claim_key:
        # Refused (429) once a limit is used up, else counted: limits see wrong secrets only.
        left = ratelimit.hit(session, _limits(client, recipient, contract, token_id))[0]
        session.commit()  # the failure counts even though this request fails
        raise WrongClaimSecret(f"wrong secret for this twin ({left} attempts left)")
    on_chain = chain.twin(contract, token_id)
    if on_chain is None:
        raise NotFound("the twin was destroyed")
    if on_chain.claimed:
        return _replay(history, contract, token_id, recipient, on_chain.owner)
    if on_chain.status == Status.stolen:
        raise TwinStolen("the twin is reported stolen: it cannot be claimed")
    if not on_chain.claimable:
        raise NotClaimable("the twin has left the brand's custody")
    leaves = [
        (t.token_id, t.claim_key)
        for t in session.exec(
            select(Twin)
            .where(Twin.collection == contract, Twin.batch_id == twin.batch_id, col(Twin.claim_key).is_not(None))
            .order_by(col(Twin.token_id))
        )
    ]
    tree = ClaimTree([(t, k) for t, k in leaves if k is not None])
    if tree.root != chain.batch(contract, twin.batch_id).claim_root:
        raise ContentIntegrityError("the registry's claim keys do not match the root on chain")
    deadline = int(time.time()) + 600
    payload = typed_data.typed_data(
        "Claim", chain.chain_id, contract, {"tokenId": token_id, "to": recipient, "deadline": deadline}
    )
    r, vs = typed_data.compact(typed_data.sign(key, payload))
    # End the transaction first: no database lock is held while the claim is mined.
    session.commit()
    try:
        tx_hash = chain.claim(contract, token_id, recipient, deadline, r, vs, tree.proof(token_id))
    except AlreadyClaimed:
        # Claimed since the read above (the first try of this very claim, its answer maybe lost).
        now = chain.twin(contract, token_id)
        if now is None:
            raise NotFound("the twin was destroyed") from None
        return _replay(history, contract, token_id, recipient, now.owner)
    return ClaimResult(
        contract=contract, token_id=token_id, owner=recipient, tx_hash=tx_hash, state=chain.relay_state(tx_hash)
    )
