"""The closed facade over the Twinmark contracts: services call typed methods here and never touch
contract functions, the transaction sender or raw RPC themselves.

Writes that relay a user's (or the brand's) action go through one `_relay`, which maps contract
refusals to the domain's client errors (`registry.chain.refusals`) and waits for the receipt at most
`relay_wait` seconds: a transaction not mined by then is answered as pending (`relay_state`), and the
sender keeps looking after it (`tend_transactions`); `transaction` tells what became of it later.
Reads revert-decode the same way. Retries live in the provider (`registry.chain.node`), never around
calls here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD
from web3.types import TxReceipt

from registry.chain import artifacts
from registry.chain.layout import ZERO_ADDRESS
from registry.chain.reads import LogReads
from registry.chain.refusals import RelayTooExpensive, TransactionPending, refusal
from registry.chain.report import OnChainBatch, OnChainBrand, OnChainTwin
from registry.chain.sender import TxSender, TxState
from registry.errors import ChainUnavailable, ContractReverted, TwinmarkError

RelayState = Literal["mined", "pending"]
"""How a relayed call was answered: mined within the relay wait, or broadcast and not yet mined."""

TxStateName = Literal["pending", "mined", "reverted", "replaced", "dropped"]

BACKGROUND_WAIT = 120.0  # seconds a background loop (not a request) waits for a relayed call's receipt
_OUTCOMES_KEPT = 4096  # how recent relays were answered, for `relay_state`


@dataclass(frozen=True)
class TxReport:
    """What became of a transaction of the service (`TwinmarkChain.transaction`)."""

    tx_hash: str
    state: TxStateName
    block_number: int | None = None  # mined or reverted
    block_hash: str | None = None
    replaced_by: str | None = None  # replaced: the version mined in its place, else the one on the wire
    reverted: ContractReverted | None = None  # reverted: the contract's refusal, decoded
    refusal: TwinmarkError | None = None  # ... and the client error a relay answers for it


@dataclass
class _InFlight:
    """A relayed call being sent, or sent and not yet mined. Identical calls follow it instead of
    sending another copy; other calls for the same twin are refused until it is mined."""

    key: str
    twin: tuple[str, int] | None
    sent: Future[str] = field(default_factory=Future)  # its transaction hash once broadcast, or the refusal


def _twin(collection: str, token_id: int) -> tuple[str, int]:
    return collection.lower(), token_id


def mint_gas(size: int) -> int:
    """Gas limit for a batch mint, so pipelined mints need no estimate against a future state."""
    return 180_000 + 2_600 * size


def tx_hex(receipt: TxReceipt) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


class TwinmarkChain(LogReads):
    def __init__(
        self,
        w3: Web3,
        sender: TxSender,
        registry_address: str,
        *,
        operator: TxSender | None = None,
        relay_gas_cap: int = 500_000,
        relay_wait: float = 10.0,
        from_block: int = 0,
        log_span: int = 1_000,
    ) -> None:
        self.w3 = w3
        self.from_block = from_block  # the registry's deployment block: no log of ours is older
        self.log_span = log_span
        self.sender = sender
        # Registry writes (brands, collections, compromise windows) are signed by the operator's key,
        # which may differ from the hot signer that mints and relays.
        self.operator = operator or sender
        self.relay_gas_cap = relay_gas_cap
        self.relay_wait = relay_wait  # seconds a relayed call waits for its receipt before answering "pending"
        self.registry = self._contract(registry_address, "TwinmarkRegistry")
        self._relay_lock = threading.Lock()
        self._relays: dict[str, _InFlight] = {}  # by call
        self._twins: dict[tuple[str, int], _InFlight] = {}  # by (collection, token id)
        self._outcomes: OrderedDict[str, RelayState] = OrderedDict()

    # ------------------------------------------------------------ plumbing

    @property
    def chain_id(self) -> int:
        return self.sender.chain_id

    @property
    def signer(self) -> str:
        """The service's own address: minter, custodian of new twins, relayer."""
        return self.sender.address

    @property
    def registry_address(self) -> str:
        return str(self.registry.address)

    def on_mined(self, callback: Callable[[int], None]) -> None:
        """`callback(block)` for the block of every receipt this process awaits."""
        self.sender.on_mined = callback
        self.operator.on_mined = callback

    def _contract(self, address: str, name: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.load(name).abi)

    @cache  # noqa: B019 - one contract object per collection for the life of the process
    def collection(self, address: str) -> Contract:
        return self._contract(address, "TwinmarkCollection")

    def call(self, fn: Any) -> Any:
        """A view call; a revert raises ContractReverted with the custom error's name."""
        try:
            return fn.call()
        except ContractReverted:
            raise
        except Exception as exc:
            data = getattr(exc, "data", None)
            if data is not None:
                raise self.sender.decoder.decode(data) from None
            raise

    # ------------------------------------------------------------ relaying

    def _relay(
        self, fn: Any, *, twin: tuple[str, int] | None = None, key: str | None = None, wait: float | None = None
    ) -> str:
        """Sends a relayed call and waits for its receipt at most `wait` seconds (default `relay_wait`);
        returns its transaction hash, and `relay_state(hash)` says whether it was mined meanwhile. A
        contract refusal (simulated, or mined) becomes the domain's client error.

        Identical calls (same `key`; default: same function and arguments) arriving while one is in
        flight are sent once: the copies follow it, each for at most its own wait, and get its hash (or
        its refusal), instead of each paying for a transaction that reverts. While a call about `twin`
        is in flight (being sent, or sent and not mined), another one about it is refused
        (`TransactionPending`): it would be simulated against the state before the first, and could
        revert on chain at the service's cost.
        """
        deadline = time.monotonic() + (self.relay_wait if wait is None else wait)
        entry, owner = self._enter(key or repr((fn.address, fn.fn_name, fn.args)), twin)
        tx_hash = self._send_relay(fn, entry) if owner else self._sent_by(entry, deadline)
        return self._follow(entry, tx_hash, deadline)

    def _relay_all(self, fns: Sequence[Any]) -> list[str]:
        """Several relayed calls, all broadcast first, then awaited together within one `relay_wait`."""
        deadline = time.monotonic() + self.relay_wait
        started = []
        for fn in fns:
            entry, owner = self._enter(repr((fn.address, fn.fn_name, fn.args)), None)
            started.append((entry, self._send_relay(fn, entry) if owner else self._sent_by(entry, deadline)))
        return [self._follow(entry, tx_hash, deadline) for entry, tx_hash in started]

    def _enter(self, key: str, twin: tuple[str, int] | None) -> tuple[_InFlight, bool]:
        """The in-flight relay of an identical call, to follow (False), or a new one this call sends (True)."""
        while True:
            with self._relay_lock:
                entry = self._relays.get(key) or (self._twins.get(twin) if twin is not None else None)
                if entry is None:
                    entry = _InFlight(key, twin)
                    self._relays[key] = entry
                    if twin is not None:
                        self._twins[twin] = entry
                    return entry, True
            if self._over(entry):  # asked outside the lock: it may take a node call
                self._forget(entry)
                continue
            if entry.key == key:
                return entry, False
            sent = entry.sent.result() if entry.sent.done() else None
            raise TransactionPending(
                "a relayed transaction for this twin is not mined yet"
                + (f" ({sent}: follow it at /v1/transactions/{sent})" if sent else "")
                + "; send this one once it is",
                tx_hash=sent,
            )

    def _over(self, entry: _InFlight) -> bool:
        """Whether an in-flight relay is over: refused, mined, or no longer looked after."""
        if not entry.sent.done():
            return False
        if entry.sent.exception() is not None:
            return True
        tx_hash = entry.sent.result()
        if not self.sender.looks_after(tx_hash):
            return True
        state = self.sender.state(tx_hash)
        return state.receipt is not None or not state.in_flight

    def _forget(self, entry: _InFlight) -> None:
        with self._relay_lock:
            if self._relays.get(entry.key) is entry:
                del self._relays[entry.key]
            if entry.twin is not None and self._twins.get(entry.twin) is entry:
                del self._twins[entry.twin]

    def _send_relay(self, fn: Any, entry: _InFlight) -> str:
        try:
            # The simulation decides: a call it says reverts, or that needs more gas than the cap
            # (a contract wallet or receiver burning gas), is refused and never broadcast.
            gas = self.sender.estimate(fn)
            if gas > self.relay_gas_cap:
                raise RelayTooExpensive(
                    f"the call would need about {gas} gas; the service relays at most {self.relay_gas_cap}"
                )
            tx_hash = self.sender.send(fn, gas=gas)
        except ContractReverted as exc:
            error = refusal(exc)
            entry.sent.set_exception(error)
            self._forget(entry)
            raise error from None
        except BaseException as exc:
            entry.sent.set_exception(exc)
            self._forget(entry)
            raise
        entry.sent.set_result(tx_hash)
        return tx_hash

    @staticmethod
    def _sent_by(entry: _InFlight, deadline: float) -> str:
        """The hash of the identical call in flight, once it is broadcast (or its refusal)."""
        try:
            return entry.sent.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise ChainUnavailable("an identical call is still being sent; ask again shortly") from None

    def _follow(self, entry: _InFlight, tx_hash: str, deadline: float) -> str:
        """Waits for the receipt until `deadline`: the hash of the version mined, or of the one on the
        wire (answered as pending; the sender keeps looking after it)."""
        try:
            receipt = self.sender.await_receipt(tx_hash, timeout=max(0.0, deadline - time.monotonic()))
        except ContractReverted as exc:
            self._forget(entry)
            raise refusal(exc) from None
        if receipt is None:
            current = self.sender.current_hash(tx_hash)
            self._answered(current, "pending")
            return current
        self._forget(entry)
        mined = tx_hex(receipt)
        self._answered(mined, "mined")
        return mined

    def _answered(self, tx_hash: str, state: RelayState) -> None:
        with self._relay_lock:
            self._outcomes[tx_hash] = state
            self._outcomes.move_to_end(tx_hash)
            while len(self._outcomes) > _OUTCOMES_KEPT:
                self._outcomes.popitem(last=False)

    def relay_state(self, tx_hash: str) -> RelayState:
        """How the relayed call that returned `tx_hash` was answered: mined within the relay wait, or
        pending (broadcast, looked after, and followed with `transaction`)."""
        with self._relay_lock:
            known = self._outcomes.get(tx_hash)
        if known is not None:
            return known
        receipt = self.sender.state(tx_hash).receipt
        return "mined" if receipt is not None and receipt["status"] == 1 else "pending"

    def transaction(self, tx_hash: str) -> TxReport | None:
        """What became of a transaction of the service's signer (or operator): pending, mined, reverted
        (with the contract's refusal), replaced (by the version mined in its place or now on the wire),
        or dropped (its nonce went to another transaction). None for any other transaction, and for
        one neither the node nor this process knows."""
        tx_hash = tx_hash.lower()
        ours = {self.sender.address.lower(), self.operator.address.lower()}
        sender = self.operator if self.operator.knows(tx_hash) else self.sender
        state = sender.state(tx_hash)
        receipt = state.receipt
        if receipt is not None:
            if str(receipt["from"]).lower() not in ours:
                return None
            if state.hash != tx_hash:
                return TxReport(tx_hash, "replaced", replaced_by=state.hash)
            number, block_hash = int(receipt["blockNumber"]), "0x" + bytes(receipt["blockHash"]).hex()
            if receipt["status"] == 1:
                return TxReport(tx_hash, "mined", block_number=number, block_hash=block_hash)
            reverted = sender.revert_reason(tx_hash, receipt)
            return TxReport(tx_hash, "reverted", number, block_hash, reverted=reverted, refusal=refusal(reverted))
        if sender.knows(tx_hash):
            if state.hash != tx_hash:
                return TxReport(tx_hash, "replaced", replaced_by=state.hash)
            return TxReport(tx_hash, "pending" if state.in_flight else "dropped")
        # Not sent by this process (another one, or before a restart): the node alone knows.
        try:
            tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        if str(tx["from"]).lower() not in ours:
            return None
        return TxReport(tx_hash, "pending")

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    # ------------------------------------------------------------ registry

    @property
    def operator_address(self) -> str:
        return self.operator.address

    def register_brand(self, admin: str, name: str) -> int:
        receipt = self.operator.transact(self.registry.functions.registerBrand(admin, name))
        return int(self._events(self.registry, "BrandRegistered", receipt)[0]["brandId"])

    def create_collection(self, brand_id: int, name: str, symbol: str, contract_uri: str, minter: str) -> str:
        fn = self.registry.functions.createCollection(brand_id, name, symbol, contract_uri, ZERO_ADDRESS, 0, minter)
        receipt = self.operator.transact(fn)
        return str(self._events(self.registry, "CollectionCreated", receipt)[0]["collection"])

    def mark_compromised(self, brand_id: int, since: int) -> str:
        """Raises ContractReverted when the registry refuses."""
        return tx_hex(self.operator.transact(self.registry.functions.markCompromised(brand_id, since)))

    def resolve_compromise(self, brand_id: int) -> str:
        return tx_hex(self.operator.transact(self.registry.functions.resolveCompromise(brand_id)))

    def compromise_windows(self, brand_id: int) -> list[tuple[int, int]]:
        """(start, end) of every compromise window; end 0 means still open."""
        return [(int(w[0]), int(w[1])) for w in self.call(self.registry.functions.compromiseWindows(brand_id))]

    def brand_of(self, collection: str) -> int:
        return int(self.call(self.registry.functions.brandOf(Web3.to_checksum_address(collection))))

    def brand(self, brand_id: int) -> OnChainBrand:
        admin, registered_at, suspended, name = self.call(self.registry.functions.brand(brand_id))
        return OnChainBrand(admin, int(registered_at), bool(suspended), name)

    def brand_admin(self, brand_id: int) -> str:
        return str(self.call(self.registry.functions.brandAdmin(brand_id)))

    def compromised_at(self, brand_id: int, timestamp: int) -> bool:
        return bool(self.call(self.registry.functions.isCompromisedAt(brand_id, timestamp)))

    # ------------------------------------------------------------ minting (the service is the minter)

    def mint_fn(
        self, collection: str, batch_id: int, custodian: str, size: int, kind: int, anchor: bytes, claim_root: bytes
    ) -> Any:
        return self.collection(collection).functions.mintBatch(batch_id, custodian, size, kind, anchor, claim_root)

    def send_mint(self, collection: str, batch_id: int, size: int, kind: int, anchor: bytes, claim_root: bytes) -> str:
        """Broadcasts a batch mint into the service's custody; returns the tx hash without waiting."""
        fn = self.mint_fn(collection, batch_id, self.signer, size, kind, anchor, claim_root)
        return self.sender.send(fn, gas=mint_gas(size))

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        return self.sender.receipt(tx_hash)

    def tx_state(self, tx_hash: str) -> TxState:
        """Where a transaction of the signer is, following its replacements (see `TxSender.state`)."""
        return self.sender.state(tx_hash)

    def tend_transactions(self) -> None:
        """Sends again dropped transactions, replaces stuck ones, fills nonce gaps (`TxSender.tend`);
        forgets relays that are over."""
        self.sender.tend()
        with self._relay_lock:
            entries = list(self._relays.values())
        for entry in entries:
            if entry.sent.done() and (
                entry.sent.exception() is not None or not self.sender.looks_after(entry.sent.result())
            ):
                self._forget(entry)

    def transactions_in_flight(self) -> bool:
        """Whether the signer has a transaction broadcast and not yet known to be mined."""
        return self.sender.busy()

    def pending(self, tx_hash: str) -> bool:
        return self.sender.pending(tx_hash)

    def revert_reason(self, tx_hash: str, receipt: TxReceipt) -> ContractReverted:
        return self.sender.revert_reason(tx_hash, receipt)

    def link_physical(self, collection: str, token_id: int, physical: str, physical_token_id: int) -> str:
        """For the mint worker (a background loop, not a request): waits until mined, as long as it takes
        (ChainUnavailable after `BACKGROUND_WAIT`; the worker tries again and follows the same transaction)."""
        fn = self.collection(collection).functions.linkPhysical(token_id, physical, physical_token_id)
        tx_hash = self._relay(fn, wait=BACKGROUND_WAIT)
        if self.relay_state(tx_hash) != "mined":
            raise ChainUnavailable(f"link {tx_hash} not mined within {BACKGROUND_WAIT:.0f}s")
        return tx_hash

    def set_service_provider(self, collections: Sequence[str], account: str, allowed: bool) -> list[str]:
        """Authorises (or not) `account` as a service provider in each collection: all broadcast at once,
        then awaited together within one relay wait."""
        return self._relay_all(
            [self.collection(address).functions.setServiceProvider(account, allowed) for address in collections]
        )

    # ------------------------------------------------------------ relayed actions on twins

    def claim(
        self, collection: str, token_id: int, to: str, deadline: int, r: bytes, vs: bytes, proof: Sequence[bytes]
    ) -> str:
        fn = self.collection(collection).functions.claim(token_id, to, deadline, r, vs, list(proof))
        # A claim for the same recipient is the same claim whatever its deadline: a retry follows the first.
        return self._relay(
            fn, twin=_twin(collection, token_id), key=repr((collection.lower(), "claim", token_id, to.lower()))
        )

    def transfer_by_sig(
        self, collection: str, to: str, token_id: int, nonce: int, deadline: int, signature: bytes
    ) -> str:
        fn = self.collection(collection).functions.transferBySig(to, token_id, nonce, deadline, signature)
        return self._relay(fn, twin=_twin(collection, token_id))

    def report_status_by_sig(
        self, collection: str, token_id: int, status: int, nonce: int, deadline: int, signature: bytes
    ) -> str:
        fn = self.collection(collection).functions.reportStatusBySig(token_id, status, nonce, deadline, signature)
        return self._relay(fn, twin=_twin(collection, token_id))

    def set_status_by_brand(self, collection: str, token_id: int, status: int) -> str:
        fn = self.collection(collection).functions.setStatusByBrand(token_id, status)
        return self._relay(fn, twin=_twin(collection, token_id))

    def update_content(self, collection: str, token_id: int, cid: bytes) -> str:
        fn = self.collection(collection).functions.updateContent(token_id, cid)
        return self._relay(fn, twin=_twin(collection, token_id))

    def record_service_by_sig(
        self,
        collection: str,
        token_id: int,
        record_cid: bytes,
        provider: str,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> str:
        fn = self.collection(collection).functions.recordServiceBySig(
            token_id, record_cid, provider, nonce, deadline, signature
        )
        return self._relay(fn, twin=_twin(collection, token_id))

    # ------------------------------------------------------------ collection reads

    def next_batch_id(self, collection: str) -> int:
        return int(self.call(self.collection(collection).functions.nextBatchId()))

    def batch(self, collection: str, batch_id: int) -> OnChainBatch:
        header, anchor, claim_root = self.call(self.collection(collection).functions.batch(batch_id))
        return OnChainBatch(header[0], header[1], header[2], header[3], bytes(anchor), bytes(claim_root))

    def twin(self, collection: str, token_id: int) -> OnChainTwin | None:
        """The twin as the chain knows it, or None when it does not exist (or was burned)."""
        try:
            t = self.call(self.collection(collection).functions.twin(token_id))
        except ContractReverted as exc:
            if exc.name == "ERC721NonexistentToken":
                return None
            raise
        return OnChainTwin(*t)

    def is_burned(self, collection: str, token_id: int) -> bool:
        return bool(self.call(self.collection(collection).functions.isBurned(token_id)))

    def brand_flags(self, collection: str) -> int:
        """The brand standing mirrored into the collection: bit 0 suspended, bit 1 compromised."""
        return int(self.call(self.collection(collection).functions.brand())[2])

    def link_of(self, collection: str, token_id: int) -> tuple[str, int]:
        address, physical_token = self.call(self.collection(collection).functions.linkOf(token_id))
        return str(address), int(physical_token)

    def provider_nonce(self, collection: str, provider: str) -> int:
        return int(self.call(self.collection(collection).functions.providerNonce(provider)))

    @staticmethod
    def _events(contract: Contract, name: str, receipt: TxReceipt) -> list[Any]:
        return [e["args"] for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)]
