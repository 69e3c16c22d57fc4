"""The signer's transactions in flight, and looking after them until one version of each is mined.

`TxSender` (`registry.chain.sender`) broadcasts; what it broadcast at each nonce (gas, fees, the
signed transaction) is remembered here until mined, and `InFlight.tend` looks after it: a
transaction the node no longer knows (dropped from its pool) is sent again, repriced if the base fee
rose past it; one not mined within `stuck_seconds` is replaced under the same nonce with both fees
raised by at least the replacement rule (+10%) and to the current market, within the cap; a nonce
the node lacks and this process never used (another process's transaction, dropped) is filled with
an empty transaction after `stuck_seconds`, so later writes are never queued behind a gap. A
replacement keeps the nonce, so only one version can land; every version's hash is remembered, so
the sender follows a transaction by any of them.

Private to `registry.chain` like the sender (`scripts/check_layers.py`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from registry.chain.fees import FeesAboveCap, above_cap, gwei, repriced
from registry.metrics import record as metrics

log = logging.getLogger("registry.chain.sender")  # one logger for the signer's transactions

# What nodes answer to signed bytes they already hold (an earlier attempt reached them, its answer was
# lost): geth, Erigon, reth and hosted providers "already known", Anvil "transaction already imported",
# Besu "known transaction". The transaction is in the pool: a success, not a refusal.
_ALREADY_HELD = ("already known", "already imported", "known transaction")
_SETTLED_KEPT = 4096  # mined transactions remembered (for `state` by any of their hashes)


@dataclass
class Broadcast:
    """What was broadcast at one nonce: enough to send it again or to replace it."""

    nonce: int
    tx: dict[str, Any]  # the unsigned transaction; a replacement changes only its two fee fields
    raw: bytes  # the current version, signed
    hash: str  # the current version's hash
    versions: list[str]  # the hash of every version ever offered to the node, oldest first
    sent_at: float  # monotonic time of the last (re)broadcast: the stuck clock starts here
    queued_at: float = 0.0  # monotonic time the caller asked for it (its queued->sent->mined clock)
    first_sent_at: float = 0.0  # monotonic time of its first broadcast
    settled: bool = False  # its nonce is used on chain (by one of its versions, or by another transaction)

    @property
    def max_fee(self) -> int:
        return int(self.tx["maxFeePerGas"])

    @property
    def tip(self) -> int:
        return int(self.tx["maxPriorityFeePerGas"])


class Signer(Protocol):
    """What looking after transactions needs of the sender: its key, its node, its fee policy."""

    w3: Web3
    account: LocalAccount
    chain_id: int
    max_fee: int
    stuck_seconds: float

    def market(self) -> tuple[int, int]: ...

    def fees(self) -> dict[str, int]: ...

    def receipt(self, tx_hash: str) -> TxReceipt | None: ...


def hex_hash(value: Any) -> str:
    return "0x" + bytes(value).hex()


def already_held(message: str) -> bool:
    return any(text in message for text in _ALREADY_HELD)


def transaction_count(w3: Web3, address: str, block: str) -> int:
    return int(w3.eth.get_transaction_count(address, block))  # type: ignore[arg-type]


def known(w3: Web3, tx_hash: str) -> bool:
    """Whether the node knows the transaction (pending in its pool, or mined)."""
    try:
        w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return False
    return True


class InFlight:
    """What one sender broadcast, by nonce while not known to be mined and by every version's hash
    (for a while after), and the tending of it. The caller holds the sender's lock."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.sent: dict[int, Broadcast] = {}  # broadcast, not known to be mined, by nonce
        self.by_hash: dict[str, Broadcast] = {}  # every version of every remembered transaction
        self.settled: deque[Broadcast] = deque()
        self.gaps: dict[int, float] = {}  # nonces missing at the node that this sender never used: since when

    def remember(self, nonce: int, tx: dict[str, Any], signed: Any, *, queued_at: float | None = None) -> Broadcast:
        tx_hash = hex_hash(signed.hash)
        now = time.monotonic()
        record = Broadcast(nonce, dict(tx), bytes(signed.raw_transaction), tx_hash, [tx_hash], now)
        record.queued_at, record.first_sent_at = queued_at if queued_at is not None else now, now
        self.sent[nonce] = record
        self.by_hash[record.hash] = record
        return record

    def settle(self, record: Broadcast) -> None:
        """Its nonce is used on chain: no longer looked after; still found by its hashes for a while."""
        if self.sent.get(record.nonce) is record:
            del self.sent[record.nonce]
        if record.settled:
            return
        record.settled = True
        self.settled.append(record)
        now, chain_id = time.monotonic(), self.signer.chain_id
        metrics.tx(chain_id, str(self.signer.account.address), "mined")
        metrics.tx_stage(chain_id, "sent_to_mined", now - record.first_sent_at)
        metrics.tx_stage(chain_id, "queued_to_mined", now - record.queued_at)
        while len(self.settled) > _SETTLED_KEPT:
            for old in self.settled.popleft().versions:
                self.by_hash.pop(old, None)

    def forget_from(self, nonce: int) -> int:
        """Forgets what was sent at `nonce` and above that the node does not hold (lost: its nonce is
        used again); returns how many. Their hashes are no longer followed here, so whoever waits on
        them asks the chain (a batch mint: whether its batch id was minted)."""
        lost = [r for n, r in self.sent.items() if n >= nonce and not any(known(self.signer.w3, h) for h in r.versions)]
        for record in lost:
            del self.sent[record.nonce]
            for version in record.versions:
                self.by_hash.pop(version, None)
        return len(lost)

    # ------------------------------------------------------------ looking after what was sent

    def tend(self, now: float, next_nonce: int) -> None:
        """Sends again what the node dropped, replaces what is stuck, fills nonce gaps below
        `next_nonce` (the sender's next nonce)."""
        w3, address = self.signer.w3, self.signer.account.address
        mined = transaction_count(w3, address, "latest")
        for nonce in sorted(n for n in self.sent if n < mined):
            self.settle(self.sent[nonce])
        pending = transaction_count(w3, address, "pending")
        self.gaps = {n: since for n, since in self.gaps.items() if n >= pending}
        if mined < next_nonce:
            # The lowest unmined nonce is the one everything else waits on. The node's "pending" count
            # cannot tell a gap (some nodes count transactions queued behind a missing nonce), so ask
            # about that one transaction directly: re-send it if the node lost it, fill it if it never
            # was ours. Higher gaps become the lowest in turn.
            record = self.sent.get(mined) or self._unmined_by_reorg(mined)
            if record is None:
                self._fill(mined, now)
            elif not known(w3, record.hash):
                self._resend(record, now)
        # Stuck: the next one to mine, or one the node counts as executable, unmined for too long (one
        # queued behind a missing nonce waits for that nonce instead).
        for record in list(self.sent.values()):
            if now - record.sent_at >= self.signer.stuck_seconds and record.nonce < max(pending, mined + 1):
                self._reprice(record, now, replacing=True)

    def _unmined_by_reorg(self, nonce: int) -> Broadcast | None:
        """A transaction of ours that was mined under `nonce` but whose block a reorganisation dropped:
        looked after again, so its very bytes are sent again (as the chain itself might re-include it)."""
        for record in reversed(self.settled):
            if record.nonce == nonce:
                record.settled = False
                self.sent[nonce] = record
                log.warning(
                    "nonce %s: transaction %s left the chain in a reorganisation; sending it again", nonce, record.hash
                )
                return record
        return None

    def _mined_version(self, record: Broadcast) -> bool:
        return any(self.signer.receipt(h) is not None for h in record.versions)

    def _broadcast(self, raw: bytes) -> str | None:
        """Sends signed bytes; None when accepted, else the node's refusal (lower case)."""
        try:
            self.signer.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            message = str(exc).lower()
            return None if already_held(message) else message
        return None

    def _resend(self, record: Broadcast, now: float) -> None:
        """The node no longer knows the transaction (dropped from its pool): the same bytes again,
        or a repriced version when the base fee has risen past its fees."""
        if self._mined_version(record):
            return  # mined meanwhile: settled on the next pass
        refusal = self._broadcast(record.raw)
        if refusal is None:
            record.sent_at = now
            metrics.tx(self.signer.chain_id, str(self.signer.account.address), "dropped")
            log.warning("transaction %s (nonce %s) was dropped by the node: sent again", record.hash, record.nonce)
        elif "nonce too low" in refusal or "replacement" in refusal:
            pass  # the nonce is used (or held by another transaction): settled once mined
        elif "underpriced" in refusal or "fee" in refusal:
            self._reprice(record, now, replacing=False)
        else:
            log.warning("transaction %s (nonce %s) dropped; re-sending refused: %s", record.hash, record.nonce, refusal)

    def _reprice(self, record: Broadcast, now: float, *, replacing: bool) -> None:
        """A new version under the same nonce with higher fees, within the cap. `replacing`: another
        version is in the node's pool, so both fees rise by at least the replacement rule."""
        cap = self.signer.max_fee
        base, market_tip = self.signer.market()
        record.sent_at = now  # next attempt after another `stuck_seconds`, whatever happens here
        if base > cap:
            log.warning("transaction %s (nonce %s) waits: %s", record.hash, record.nonce, above_cap(base, cap).detail)
            return
        fees = repriced(record.max_fee, record.tip, base, market_tip, cap, replacing=replacing)
        if fees is None:
            log.warning(
                "transaction %s (nonce %s) stuck, and a replacement would exceed the cap of %s gwei: waiting",
                record.hash,
                record.nonce,
                gwei(cap),
            )
            return
        max_fee, tip = fees
        tx = record.tx | {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
        signed = self.signer.account.sign_transaction(tx)
        # Known before it is offered: should the node take it while the answer is lost, its receipt
        # is still found.
        version = hex_hash(signed.hash)
        record.versions.append(version)
        self.by_hash[version] = record
        refusal = self._broadcast(signed.raw_transaction)
        if refusal is not None:
            if "nonce too low" not in refusal:  # else a version was mined: settled on the next pass
                log.warning("replacing transaction %s (nonce %s) refused: %s", record.hash, record.nonce, refusal)
            return
        old = record.hash
        record.tx, record.raw, record.hash = tx, bytes(signed.raw_transaction), version
        metrics.tx(self.signer.chain_id, str(self.signer.account.address), "replaced")
        log.warning(
            "transaction %s (nonce %s) %s: replaced by %s (max fee %s gwei, tip %s gwei)",
            old,
            record.nonce,
            "not mined in time" if replacing else "dropped and underpriced",
            record.hash,
            gwei(max_fee),
            gwei(tip),
        )

    def _fill(self, nonce: int, now: float) -> None:
        """A nonce the node lacks that this sender never used (another process's transaction, dropped):
        after `stuck_seconds`, an empty transaction to self takes it, so later ones are not held up."""
        since = self.gaps.setdefault(nonce, now)
        if now - since < self.signer.stuck_seconds:
            return
        self.gaps[nonce] = now  # a refused attempt is tried again after another `stuck_seconds`
        try:
            fees = self.signer.fees()
        except FeesAboveCap as exc:
            log.warning("nonce %s missing; not filled: %s", nonce, exc.detail)
            return
        address = str(self.signer.account.address)
        tx: dict[str, Any] = {"to": address, "value": 0, "gas": 21_000, "nonce": nonce, "chainId": self.signer.chain_id}
        tx |= fees
        signed = self.signer.account.sign_transaction(tx)
        refusal = self._broadcast(signed.raw_transaction)
        if refusal is None:
            self.remember(nonce, tx, signed)
            log.warning("nonce %s missing at the node for %.0fs: filled with an empty transaction", nonce, now - since)
        else:
            log.warning("nonce %s missing; filling it was refused: %s", nonce, refusal)
