"""The closed facade over the Twinmark contracts: services call typed methods here and never touch
contract functions, the transaction sender or raw RPC themselves.

Writes that relay a user's (or the brand's) action go through one `_relay`, which maps contract
refusals to the domain's client errors (`registry.chain.refusals`). Reads revert-decode the same way.
Retries live in the provider (`registry.chain.node`), never around calls here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from registry.chain import artifacts
from registry.chain.layout import ZERO_ADDRESS, batch_of
from registry.chain.logs import COLLECTION_EVENTS, collection_topic, decode
from registry.chain.node import RpcError, block_times, range_refused, rpc, rpc_batch
from registry.chain.refusals import RelayTooExpensive, refusal
from registry.chain.report import OnChainBatch, OnChainBrand, OnChainTwin, TwinReport, call_data, decode_report
from registry.chain.sender import TxSender, TxState
from registry.errors import ContractReverted


@dataclass(frozen=True)
class ChainLog:
    """One decoded event of a token's history, with the time of its block."""

    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    block_time: datetime
    block_hash: str = ""


def mint_gas(size: int) -> int:
    """Gas limit for a batch mint, so pipelined mints need no estimate against a future state."""
    return 180_000 + 2_600 * size


def tx_hex(receipt: TxReceipt) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


_BY_TOKEN = ("Claimed", "StatusChanged", "ContentUpdated", "ServiceRecorded", "TwinLinked")


def _topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


class TwinmarkChain:
    def __init__(
        self,
        w3: Web3,
        sender: TxSender,
        registry_address: str,
        *,
        operator: TxSender | None = None,
        relay_gas_cap: int = 500_000,
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
        self.registry = self._contract(registry_address, "TwinmarkRegistry")
        self._relay_lock = threading.Lock()
        self._relays: dict[str, Future[str]] = {}

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

    def _relay(self, fn: Any) -> str:
        """Sends and awaits a transaction; a contract refusal becomes the domain's client error.

        Identical calls arriving while one is in flight are sent once: the copies wait for it and get
        its transaction hash (or its refusal), instead of each paying for a transaction that reverts.
        """
        key = repr((fn.address, fn.fn_name, fn.args))
        with self._relay_lock:
            first = self._relays.get(key)
            if first is None:
                mine: Future[str] = Future()
                self._relays[key] = mine
        if first is not None:
            return first.result(timeout=300)
        try:
            # The simulation decides: a call it says reverts, or that needs more gas than the cap
            # (a contract wallet or receiver burning gas), is refused and never broadcast.
            gas = self.sender.estimate(fn)
            if gas > self.relay_gas_cap:
                raise RelayTooExpensive(
                    f"the call would need about {gas} gas; the service relays at most {self.relay_gas_cap}"
                )
            tx_hash = tx_hex(self.sender.transact(fn, gas=gas))
        except ContractReverted as exc:
            error = refusal(exc)
            mine.set_exception(error)
            raise error from None
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        finally:
            with self._relay_lock:
                del self._relays[key]
        mine.set_result(tx_hash)
        return tx_hash

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
        """Sends again dropped transactions, replaces stuck ones, fills nonce gaps (`TxSender.tend`)."""
        self.sender.tend()

    def pending(self, tx_hash: str) -> bool:
        return self.sender.pending(tx_hash)

    def revert_reason(self, tx_hash: str, receipt: TxReceipt) -> ContractReverted:
        return self.sender.revert_reason(tx_hash, receipt)

    def link_physical(self, collection: str, token_id: int, physical: str, physical_token_id: int) -> str:
        return self._relay(self.collection(collection).functions.linkPhysical(token_id, physical, physical_token_id))

    def set_service_provider(self, collection: str, account: str, allowed: bool) -> str:
        return self._relay(self.collection(collection).functions.setServiceProvider(account, allowed))

    # ------------------------------------------------------------ relayed actions on twins

    def claim(
        self, collection: str, token_id: int, to: str, deadline: int, r: bytes, vs: bytes, proof: Sequence[bytes]
    ) -> str:
        return self._relay(self.collection(collection).functions.claim(token_id, to, deadline, r, vs, list(proof)))

    def transfer_by_sig(
        self, collection: str, to: str, token_id: int, nonce: int, deadline: int, signature: bytes
    ) -> str:
        return self._relay(
            self.collection(collection).functions.transferBySig(to, token_id, nonce, deadline, signature)
        )

    def report_status_by_sig(
        self, collection: str, token_id: int, status: int, nonce: int, deadline: int, signature: bytes
    ) -> str:
        fn = self.collection(collection).functions.reportStatusBySig(token_id, status, nonce, deadline, signature)
        return self._relay(fn)

    def set_status_by_brand(self, collection: str, token_id: int, status: int) -> str:
        return self._relay(self.collection(collection).functions.setStatusByBrand(token_id, status))

    def update_content(self, collection: str, token_id: int, cid: bytes) -> str:
        return self._relay(self.collection(collection).functions.updateContent(token_id, cid))

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
        return self._relay(fn)

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

    # ------------------------------------------------------------ logs

    def logs(self, query: dict[str, Any], *, start: int | None = None) -> list[dict[str, Any]]:
        """Raw `eth_getLogs` results from `start` (default: the deployment block) to the head, in spans
        of at most `log_span` blocks; a span the node refuses is halved (and stays halved)."""
        end = self.block_number()
        position = max(self.from_block, start if start is not None else 0)
        found: list[dict[str, Any]] = []
        while position <= end:
            stop = min(end, position + self.log_span - 1)
            try:
                found += rpc(self.w3, "eth_getLogs", [query | {"fromBlock": hex(position), "toBlock": hex(stop)}])
            except RpcError as exc:
                if self.log_span > 1 and range_refused(exc.message):
                    self.log_span = max(1, self.log_span // 2)
                    continue
                raise
            position = stop + 1
        return found

    def batch_minted_log(self, collection: str, batch_id: int) -> tuple[str, int] | None:
        """(tx hash, block) of the BatchMinted event of `batch_id`, if the chain has one."""
        query = {
            "address": Web3.to_checksum_address(collection),
            "topics": [collection_topic("BatchMinted"), _topic(batch_id)],
        }
        found = self.logs(query)
        return (str(found[0]["transactionHash"]), int(found[0]["blockNumber"], 16)) if found else None

    def _history_queries(self, collection: str, token_id: int) -> list[dict[str, Any]]:
        """The `eth_getLogs` filters of one token's history (without block bounds)."""
        address = Web3.to_checksum_address(collection)
        token = _topic(token_id)
        return [
            {"address": address, "topics": [[collection_topic(name) for name in _BY_TOKEN], token]},
            {"address": address, "topics": [collection_topic("Transfer"), None, None, token]},
            {"address": address, "topics": [collection_topic("BatchMinted"), _topic(batch_of(token_id))]},
        ]

    def history(self, collection: str, token_id: int, *, start: int | None = None) -> list[ChainLog]:
        """Every event about one token from block `start` (default: the deployment block), oldest
        first: its batch's mint, transfers, claims, status changes, content updates, service records,
        links; each with its block's time. Bounded: every query is split to `log_span` blocks."""
        queries = self._history_queries(collection, token_id)
        return self._chain_logs([log for query in queries for log in self.logs(query, start=start)])

    def _chain_logs(self, raw_logs: list[dict[str, Any]]) -> list[ChainLog]:
        raw_logs.sort(key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
        times = block_times(self.w3, raw_logs)
        out = []
        for log in raw_logs:
            decoded = decode(log, COLLECTION_EVENTS)
            if decoded is None or log["blockHash"] not in times:
                continue
            out.append(
                ChainLog(
                    decoded[0],
                    decoded[1],
                    int(log["blockNumber"], 16),
                    int(log["logIndex"], 16),
                    log["transactionHash"],
                    datetime.fromtimestamp(times[log["blockHash"]], UTC),
                    log["blockHash"],
                )
            )
        return out

    # ------------------------------------------------------------ verification

    def twin_report(self, collection: str, token_id: int) -> TwinReport:
        """Collection, brand, compromise windows and twin in one `eth_call`."""
        call = {"to": self.registry_address, "data": call_data(Web3.to_checksum_address(collection), token_id)}
        return decode_report(rpc(self.w3, "eth_call", [call, "latest"]))

    def report_and_recent(self, collection: str, token_id: int, start: int) -> tuple[TwinReport, list[ChainLog]]:
        """The twin's report and its events from block `start` to the head, as one JSON-RPC batch (one
        round trip; a second only when the node leaves block times out of logs). A span the node
        refuses (the index is far behind) is read again in bounded spans."""
        address = Web3.to_checksum_address(collection)
        bounds = {"fromBlock": hex(max(start, self.from_block)), "toBlock": "latest"}
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{"to": self.registry_address, "data": call_data(address, token_id)}, "latest"])
        ]
        calls += [("eth_getLogs", [query | bounds]) for query in self._history_queries(address, token_id)]
        try:
            results = rpc_batch(self.w3, calls)
        except RpcError as exc:
            if exc.method != "eth_getLogs" or not range_refused(exc.message):
                raise
            return self.twin_report(address, token_id), self.history(address, token_id, start=start)
        return decode_report(results[0]), self._chain_logs([log for found in results[1:] for log in found])

    @staticmethod
    def _events(contract: Contract, name: str, receipt: TxReceipt) -> list[Any]:
        return [e["args"] for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)]
