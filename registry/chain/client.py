"""The closed facade over the Twinmark contracts: services call typed methods here and never touch
contract functions, the transaction sender or raw RPC themselves.

Writes that relay a user's (or the brand's) action go through the `Relayer` (`registry.chain.relay`):
sent once, contract refusals mapped to the domain's client errors (`registry.chain.refusals`), the
receipt awaited at most `relay_wait` seconds; a transaction not mined by then is answered as pending
(`relay_state`), the sender keeps looking after it (`tend_transactions`), and `transaction`
(`registry.chain.tx_report`) tells what became of it later. Reads revert-decode the same way.
Retries live in the provider (`registry.chain.node`), never around calls here.

Passkey owner accounts (their addresses, challenges and relays) are the `OwnerAccounts` half,
in `registry.chain.owner_accounts`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import cache
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from registry.chain import artifacts
from registry.chain.collection_reads import CollectionReads
from registry.chain.deploy import OwnerContracts
from registry.chain.lanes import Lanes
from registry.chain.layout import ZERO_ADDRESS
from registry.chain.owner_accounts import OwnerAccounts
from registry.chain.reads import LogReads
from registry.chain.relay import Relayer, twin_key
from registry.chain.relay import RelayState as RelayState
from registry.chain.report import OnChainBrand
from registry.chain.sender import TxSender, TxState
from registry.chain.tx_report import TxReport as TxReport
from registry.chain.tx_report import TxStateName as TxStateName
from registry.chain.tx_report import transaction_report, tx_hex
from registry.errors import ChainUnavailable, ContractReverted

BACKGROUND_WAIT = 120.0  # seconds a background loop (not a request) waits for a relayed call's receipt


def mint_gas(size: int) -> int:
    """Gas limit for a batch mint, so pipelined mints need no estimate against a future state."""
    return 180_000 + 2_600 * size


class TwinmarkChain(LogReads, OwnerAccounts, CollectionReads):
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
        owners: OwnerContracts | None = None,
        p256_native: bool | None = None,
        passkey_relay_gas_cap: int = 1_000_000,
        lanes: Sequence[TxSender] = (),
        lane_max_in_flight: int = 1_000_000,
    ) -> None:
        self.w3 = w3
        self.from_block = from_block  # the registry's deployment block: no log of ours is older
        self.log_span = log_span
        self.sender = sender
        # Registry writes (brands, collections, compromise windows) are signed by the operator's key,
        # which may differ from the hot signer that mints and relays.
        self.operator = operator or sender
        self.relayer = Relayer(sender, gas_cap=relay_gas_cap, wait=relay_wait)
        self.registry = self._contract(registry_address, "TwinmarkRegistry")
        # Passkey owner accounts: None where the chain has no CREATE2 deployer for their contracts.
        # Whether P-256 is native decides the relay path of passkey actions (None: probed when first
        # asked; the runtime probes at start).
        self._owners = owners
        self._p256_native = p256_native
        self.passkey_relay_gas_cap = passkey_relay_gas_cap
        # Mints go out on signer lanes (lane 0 is `sender`; `lanes` are more minter keys).
        self.lanes = Lanes([sender, *lanes], max_in_flight=lane_max_in_flight, is_minter=self.is_minter)

    # ------------------------------------------------------------ plumbing

    @property
    def chain_id(self) -> int:
        return self.sender.chain_id

    def nonces(self) -> list[tuple[str, int, int]]:
        """Each signer that has sent from this process: (address, node's pending count, local next nonce)."""
        senders = {s.address: s for s in (self.sender, self.operator)}
        found = []
        for address, sender in senders.items():
            local = sender.local_nonce()
            if local is not None:
                found.append((address, sender.node_nonce(), local))
        return found

    @property
    def signer(self) -> str:
        """The service's own address: minter, custodian of new twins, relayer."""
        return self.sender.address

    @property
    def relay_gas_cap(self) -> int:
        return self.relayer.gas_cap

    @property
    def relay_wait(self) -> float:
        """Seconds a relayed call waits for its receipt before answering "pending"."""
        return self.relayer.wait

    @property
    def registry_address(self) -> str:
        return str(self.registry.address)

    def on_mined(self, callback: Callable[[int], None]) -> None:
        """`callback(block)` for the block of every receipt this process awaits."""
        for sender in (*self.lanes.senders, self.operator):
            sender.on_mined = callback

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

    # ------------------------------------------------------------ relaying and following transactions

    def relay_state(self, tx_hash: str) -> RelayState:
        """How the relayed call that returned `tx_hash` was answered: mined within the relay wait, or
        pending (broadcast, looked after, and followed with `transaction`)."""
        return self.relayer.state(tx_hash)

    def transaction(self, tx_hash: str) -> TxReport | None:
        """What became of a transaction of the service's signer (or operator): pending, mined, reverted
        (with the contract's refusal), replaced (by the version mined in its place or now on the wire),
        or dropped (its nonce went to another transaction). None for any other transaction, and for
        one neither the node nor this process knows."""
        return transaction_report(self.w3, self.sender, self.operator, tx_hash)

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    # ------------------------------------------------------------ registry

    @property
    def operator_address(self) -> str:
        return self.operator.address

    def register_brand(self, admin: str, name: str) -> int:
        receipt = self.operator.transact(self.registry.functions.registerBrand(admin, name))
        return int(self._events(self.registry, "BrandRegistered", receipt)[0]["brandId"])

    def create_collection(
        self,
        brand_id: int,
        name: str,
        symbol: str,
        contract_uri: str,
        minter: str,
        policy: tuple[int, int, int] = (0, 0, 0),
    ) -> str:
        """Creates a collection; `policy` is (TransferPolicy, sender hold s, recipient hold s)."""
        fn = (
            self.registry.functions.createCollection(brand_id, name, symbol, contract_uri, ZERO_ADDRESS, 0, minter)
            if policy == (0, 0, 0)
            else self.registry.functions.createCollectionWithPolicy(
                brand_id, name, symbol, contract_uri, minter, policy
            )
        )
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

    def send_mint(
        self,
        collection: str,
        batch_id: int,
        size: int,
        kind: int,
        anchor: bytes,
        claim_root: bytes,
        *,
        lane: int | None = None,
    ) -> str:
        """Broadcasts a batch mint into the service's custody on `lane` (default: the one `free_lane`
        names, else the signer's); returns the tx hash without waiting."""
        if lane is None:
            lane = self.lanes.free(collection) or 0
        fn = self.mint_fn(collection, batch_id, self.signer, size, kind, anchor, claim_root)
        tx_hash = self.lanes.senders[lane].send(fn, gas=mint_gas(size))
        self.lanes.sent(lane, collection, tx_hash)
        return tx_hash

    def free_lane(self, collection: str, usable: Collection[int] | None = None) -> int | None:
        """The signer lane the collection's next mint may take now, among `usable` (None: it waits; see
        `Lanes.free`)."""
        return self.lanes.free(collection, usable)

    def lane_addresses(self) -> list[str]:
        """Each signer lane's address, by lane number (lane 0 is the signer)."""
        return [s.address for s in self.lanes.senders]

    def lane_busy(self, lane: int) -> bool:
        """Whether the lane has a mint (or any transaction) broadcast from this process and not yet mined."""
        return self.lanes.senders[lane].busy()

    def lane_handed_over(self, lane: int) -> None:
        """This process takes the lane over from another one, or hands it on: see `Lanes.handed_over`."""
        self.lanes.handed_over(lane)

    def lane_refused(self, collection: str, tx_hash: str) -> bool:
        """A mint reverted as unauthorised: its lane lost the collection's minter role (see `Lanes.refused`);
        True when another lane may send it again."""
        return self.lanes.refused(collection, tx_hash)

    def grant_lanes(self, collection: str) -> None:
        """Makes every signer lane a minter of `collection` (signed by the signer: it must be the brand's
        admin there, as for brands registered without an admin of their own)."""
        contract = self.collection(collection)
        sent = [self.sender.send(contract.functions.setMinter(s.address, True)) for s in self.lanes.senders[1:]]
        for tx_hash in sent:
            self.sender.wait(tx_hash)

    def is_minter(self, collection: str, account: str) -> bool:
        return bool(self.call(self.collection(collection).functions.isMinter(Web3.to_checksum_address(account))))

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        return self.sender.receipt(tx_hash)

    def tx_state(self, tx_hash: str) -> TxState:
        """Where a transaction of the signer (or of a lane) is, following its replacements (see
        `TxSender.state`)."""
        return self.lanes.of(tx_hash).state(tx_hash)

    def tend_transactions(self) -> None:
        """Sends again dropped transactions, replaces stuck ones, fills nonce gaps (`TxSender.tend`),
        on every lane; forgets relays that are over."""
        for sender in self.lanes.senders:
            sender.tend()
        self.relayer.forget_over()

    def transactions_in_flight(self) -> bool:
        """Whether the signer (or a lane) has a transaction broadcast and not yet known to be mined."""
        return any(sender.busy() for sender in self.lanes.senders)

    def pending(self, tx_hash: str) -> bool:
        return self.sender.pending(tx_hash)

    def revert_reason(self, tx_hash: str, receipt: TxReceipt) -> ContractReverted:
        return self.sender.revert_reason(tx_hash, receipt)

    def link_physical(self, collection: str, token_id: int, physical: str, physical_token_id: int) -> str:
        """For the mint worker (a background loop, not a request): waits until mined, as long as it takes
        (ChainUnavailable after `BACKGROUND_WAIT`; the worker tries again and follows the same transaction)."""
        fn = self.collection(collection).functions.linkPhysical(token_id, physical, physical_token_id)
        tx_hash = self.relayer.relay(fn, wait=BACKGROUND_WAIT)
        if self.relay_state(tx_hash) != "mined":
            raise ChainUnavailable(f"link {tx_hash} not mined within {BACKGROUND_WAIT:.0f}s")
        return tx_hash

    def set_service_provider(self, collections: Sequence[str], account: str, allowed: bool) -> list[str]:
        """Authorises (or not) `account` as a service provider in each collection: all broadcast at once,
        then awaited together within one relay wait."""
        return self.relayer.relay_all(
            [self.collection(address).functions.setServiceProvider(account, allowed) for address in collections]
        )

    # ------------------------------------------------------------ relayed actions on twins

    def claim(
        self, collection: str, token_id: int, to: str, deadline: int, r: bytes, vs: bytes, proof: Sequence[bytes]
    ) -> str:
        fn = self.collection(collection).functions.claim(token_id, to, deadline, r, vs, list(proof))
        # A claim for the same recipient is the same claim whatever its deadline: a retry follows the first.
        return self.relayer.relay(
            fn, twin=twin_key(collection, token_id), key=repr((collection.lower(), "claim", token_id, to.lower()))
        )

    def transfer_by_sig(
        self, collection: str, to: str, token_id: int, nonce: int, deadline: int, signature: bytes
    ) -> str:
        fn = self.collection(collection).functions.transferBySig(to, token_id, nonce, deadline, signature)
        return self.relayer.relay(fn, twin=twin_key(collection, token_id))

    def report_status_by_sig(
        self, collection: str, token_id: int, status: int, nonce: int, deadline: int, signature: bytes
    ) -> str:
        fn = self.collection(collection).functions.reportStatusBySig(token_id, status, nonce, deadline, signature)
        return self.relayer.relay(fn, twin=twin_key(collection, token_id))

    def set_status_by_brand(self, collection: str, token_id: int, status: int) -> str:
        fn = self.collection(collection).functions.setStatusByBrand(token_id, status)
        return self.relayer.relay(fn, twin=twin_key(collection, token_id))

    def update_content(self, collection: str, token_id: int, cid: bytes) -> str:
        fn = self.collection(collection).functions.updateContent(token_id, cid)
        return self.relayer.relay(fn, twin=twin_key(collection, token_id))

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
        return self.relayer.relay(fn, twin=twin_key(collection, token_id))

    # ------------------------------------------------------------ collection writes

    def set_transfer_policy(self, collection: str, policy: tuple[int, int, int]) -> str:
        """Makes the collection's policy stricter, as its brand admin (the service's own key); the
        simulation refuses a looser one, or another admin's collection, before anything is sent."""
        fn = self.collection(collection).functions.setTransferPolicy(*policy)
        self.sender.estimate(fn)
        return tx_hex(self.sender.transact(fn))

    @staticmethod
    def _events(contract: Contract, name: str, receipt: TxReceipt) -> list[Any]:
        return [e["args"] for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)]
