"""A claim whose answer was lost (the API or the network died after the claim was relayed) is asked
again with the same secret and recipient: it answers as the first did (200, same transaction, same
owner, `Idempotent-Replayed: true`) and sends nothing. The right secret for another recipient stays a
409, a wrong secret stays a counted 403 (429 once its limits are used up), and a right secret is never
refused by those limits: a retry still answers. Real Anvil, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlmodel import Session, select

from registry.chain.client import TwinmarkChain
from registry.events.models import ChainEvent
from tests.api.conftest import SIGNER_KEY, Stack, physical
from tests.api.test_lifecycle import problem, sign

SERIALS = ("R-lost", "R-index", "R-lockout", "R-moved", "R-race")


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    brand, collection = stack.new_brand("Retry House", "RTRY")
    twins = [physical(serial, code="590123412345") | {"claimable": True} for serial in SERIALS]
    job = stack.wait_job(brand, stack.client.post("/v1/batches", json={"twins": twins}, headers=brand).json()["id"])
    assert job["state"] == "completed", job
    secrets = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=brand).json()["secrets"]
    return {
        "collection": collection,
        "tokens": {t["serial"]: t["token_id"] for t in job["twins"]},
        "secrets": {row["serial"]: row["secret"] for row in secrets},
    }


def claim(stack: Stack, world: dict[str, Any], serial: str, recipient: str, secret: str | None = None) -> Any:
    body = {"secret": secret or world["secrets"][serial], "recipient": recipient}
    return stack.client.post(f"/v1/twins/{world['collection']}/{world['tokens'][serial]}/claim", json=body)


def claim_tx_on_chain(stack: Stack, world: dict[str, Any], serial: str) -> str:
    """The claim's transaction as the chain tells it (what the client never heard)."""
    collection = stack.runtime.chain.collection(world["collection"])
    logs = collection.events.Claimed().get_logs(from_block=0, argument_filters={"tokenId": world["tokens"][serial]})
    assert len(logs) == 1
    return "0x" + bytes(logs[0]["transactionHash"]).hex()


def sent(stack: Stack) -> int:
    """Transactions the service's signer has sent: a replay must send none."""
    return stack.runtime.w3.eth.get_transaction_count(Account.from_key(SIGNER_KEY).address, "pending")


def replayed(r: Any, tx_hash: str, owner: str) -> None:
    assert r.status_code == 200, r.text
    assert r.headers["Idempotent-Replayed"] == "true"
    assert r.json()["tx_hash"] == tx_hash and r.json()["owner"] == owner and r.json()["state"] == "mined"


def test_a_claim_retried_after_its_answer_was_lost_answers_as_the_first_did(
    stack: Stack, world: dict[str, Any]
) -> None:
    buyer = Account.create().address
    claim(stack, world, "R-lost", buyer)  # relayed and mined; its answer never reaches the buyer
    tx_hash = claim_tx_on_chain(stack, world, "R-lost")
    before = sent(stack)

    replayed(claim(stack, world, "R-lost", buyer), tx_hash, buyer)
    # Asked again for the same buyer, the same answer; and still nothing sent.
    replayed(claim(stack, world, "R-lost", buyer.lower()), tx_hash, buyer)
    assert sent(stack) == before

    # The right secret for another recipient is a second claim (a front-runner's, say): refused, and
    # it is not told the first claim's transaction.
    other = problem(claim(stack, world, "R-lost", Account.create().address), 409, "already-claimed")
    assert "tx_hash" not in other
    # A wrong secret is refused and counted as before.
    wrong = problem(claim(stack, world, "R-lost", buyer, secret="W" * 32), 403, "wrong-claim-secret")
    assert "attempts left" in wrong["detail"]
    assert sent(stack) == before


def test_the_retry_reads_the_claim_from_the_index_once_it_has_it(stack: Stack, world: dict[str, Any]) -> None:
    buyer = Account.create().address
    claim(stack, world, "R-index", buyer)  # answer lost
    tx_hash = claim_tx_on_chain(stack, world, "R-index")
    deadline = time.monotonic() + 20
    while True:
        with Session(stack.runtime.engine) as s:
            indexed = s.exec(
                select(ChainEvent).where(ChainEvent.name == "Claimed", ChainEvent.tx_hash == tx_hash)
            ).first()
        if indexed is not None:
            break
        assert time.monotonic() < deadline, "the indexer never recorded the claim"
        time.sleep(0.1)
    replayed(claim(stack, world, "R-index", buyer), tx_hash, buyer)


def test_wrong_secrets_after_a_claim_lock_out_guesses_but_not_the_retry(stack: Stack, world: dict[str, Any]) -> None:
    """The replay is reached only past the secret check: guessing is counted and refused as before, and
    the right secret from the same client is answered all the same (limits count and refuse wrong
    secrets only; secrets are 160-bit, so passing the right one tells a guesser nothing it could use)."""
    buyer = Account.create().address
    claim(stack, world, "R-lockout", buyer)  # answer lost
    tx_hash = claim_tx_on_chain(stack, world, "R-lockout")
    lefts = [
        problem(claim(stack, world, "R-lockout", buyer, secret=letter * 32), 403, "wrong-claim-secret")["detail"]
        for letter in "CDEFG"
    ]
    assert "(4 attempts left)" in lefts[0] and "(0 attempts left)" in lefts[-1]
    problem(claim(stack, world, "R-lockout", buyer, secret="H" * 32), 429, "too-many-requests")
    replayed(claim(stack, world, "R-lockout", buyer), tx_hash, buyer)


def test_a_retry_after_the_twin_moved_on_is_a_conflict_naming_the_claim(stack: Stack, world: dict[str, Any]) -> None:
    """Claimed, then resold by the buyer: the claim is no longer the twin's state, so a late retry is
    409 `already-claimed` (an `owner` of 200 would be false), and it names the claim's transaction."""
    buyer: LocalAccount = Account.create()
    claim(stack, world, "R-moved", buyer.address)  # answer lost
    tx_hash = claim_tx_on_chain(stack, world, "R-moved")
    base = f"/v1/twins/{world['collection']}/{world['tokens']['R-moved']}/transfers"
    to = Account.create().address
    typed = stack.client.get(base + "/typed-data", params={"to": to}).json()["typed_data"]
    m = typed["message"]
    moved = stack.client.post(
        base, json={"to": to, "nonce": m["nonce"], "deadline": m["deadline"], "signature": sign(buyer, typed)}
    )
    assert moved.status_code == 200, moved.text
    late = problem(claim(stack, world, "R-moved", buyer.address), 409, "already-claimed")
    assert late["tx_hash"] == tx_hash and "has moved since" in late["detail"]
    problem(claim(stack, world, "R-moved", to), 409, "already-claimed")  # nor does the new owner claim it


def test_a_retry_racing_its_own_claim_is_answered_as_a_replay(
    stack: Stack, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry reads the twin an instant before the first claim is mined, then relays: the contract
    refuses (`AlreadyClaimed`, simulated on the real chain, never broadcast) and the answer is the replay."""
    buyer = Account.create().address
    chain: TwinmarkChain = stack.runtime.chain
    token = world["tokens"]["R-race"]
    unclaimed = chain.twin(world["collection"], token)
    assert unclaimed is not None and not unclaimed.claimed
    claim(stack, world, "R-race", buyer)  # answer lost
    tx_hash = claim_tx_on_chain(stack, world, "R-race")
    before = sent(stack)
    reads = [unclaimed]  # the retry's first read of the twin is from before the claim was mined
    real_twin = chain.twin
    monkeypatch.setattr(chain, "twin", lambda c, t: reads.pop() if reads else real_twin(c, t))
    replayed(claim(stack, world, "R-race", buyer), tx_hash, buyer)
    assert not reads and sent(stack) == before
