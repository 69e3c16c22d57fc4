"""Property tests: Hypothesis drives random mints, transfers, thefts and burns on a real Anvil and
checks the ownership invariants after every step."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from registry.errors import ContractReverted
from registry.ipfs.cid import DAG_PB, cid_v1
from tests.contracts.chain import NONE, STOLEN, Deployment, mint

POOL = 4  # holders the machine moves twins between


def make_machine(d: Deployment) -> type[RuleBasedStateMachine]:
    holders = [d.chain.new_account().address for _ in range(POOL)]
    col, chain = d.col_a, d.chain

    def read(*calls: Any) -> list[Any]:
        """View calls in one JSON-RPC batch: the invariants read every twin after every step, and one
        request per read made this the suite's second-longest file."""
        if not calls:
            return []
        with chain.w3.batch_requests() as batch:
            for call in calls:
                batch.add(call)
            return list(batch.execute())

    class Twins(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
            self.owner: dict[int, str | None] = {}  # None once burned
            self.stolen: set[int] = set()
            self.anchor_of: dict[int, bytes] = {}
            self.sizes: list[int] = []

        def teardown(self) -> None:
            chain.w3.provider.make_request("evm_revert", [self.snapshot])  # type: ignore[arg-type]

        def live(self) -> list[int]:
            return sorted(t for t, o in self.owner.items() if o is not None)

        @rule(size=st.integers(1, 12), holder=st.integers(0, POOL - 1), anchor=st.binary(min_size=32, max_size=32))
        def mint_batch(self, size: int, holder: int, anchor: bytes) -> None:
            if anchor == b"\x00" * 32:
                anchor = b"\x01" * 32
            first, _ = mint(d, size, custodian=holders[holder], anchor=anchor)
            self.sizes.append(size)
            for t in range(first, first + size):
                self.owner[t] = holders[holder]
                self.anchor_of[t] = anchor

        @precondition(lambda self: bool(self.live()))
        @rule(data=st.data(), to=st.integers(0, POOL - 1))
        def transfer(self, data: Any, to: int) -> None:
            token = data.draw(st.sampled_from(self.live()))
            owner = self.owner[token]
            assert owner is not None
            try:
                chain.send(col.functions.transferFrom(owner, holders[to], token), owner)
            except ContractReverted as err:
                assert token in self.stolen and err.name == "TwinmarkERC721TwinStolen"
                return
            assert token not in self.stolen, "a stolen twin moved"
            self.owner[token] = holders[to]

        @precondition(lambda self: bool(self.live()))
        @rule(data=st.data(), stolen=st.booleans())
        def brand_status(self, data: Any, stolen: bool) -> None:
            token = data.draw(st.sampled_from(self.live()))
            if stolen == (token in self.stolen):
                return
            chain.send(col.functions.setStatusByBrand(token, STOLEN if stolen else NONE), d.minter_a)
            (self.stolen.add if stolen else self.stolen.discard)(token)

        @precondition(lambda self: bool(self.live()))
        @rule(data=st.data())
        def burn(self, data: Any) -> None:
            token = data.draw(st.sampled_from(self.live()))
            owner = self.owner[token]
            assert owner is not None
            try:
                chain.send(col.functions.burn(token), owner)
            except ContractReverted as err:
                assert token in self.stolen and err.name == "TwinmarkERC721TwinStolen"
                return
            self.owner[token] = None

        @invariant()
        def supply_is_batches_minus_burns(self) -> None:
            burned = sum(1 for o in self.owner.values() if o is None)
            supply, *balances = read(col.functions.totalSupply(), *(col.functions.balanceOf(h) for h in holders))
            assert supply == sum(self.sizes) - burned
            # Every live twin has exactly one owner: the holders' balances add up to the supply.
            assert sum(balances) == supply

        @invariant()
        def every_twin_has_its_owner_and_uri(self) -> None:
            live = [(token, owner) for token, owner in self.owner.items() if owner is not None]
            answers = read(*(f(token) for token, _ in live for f in (col.functions.ownerOf, col.functions.tokenURI)))
            for i, (token, owner) in enumerate(live):
                assert answers[2 * i] == owner
                uri = answers[2 * i + 1]
                assert uri == f"ipfs://{cid_v1(DAG_PB, self.anchor_of[token])}/{token}"
            for token, owner in self.owner.items():
                if owner is None:
                    try:
                        col.functions.ownerOf(token).call()
                    except Exception:
                        continue
                    raise AssertionError(f"burned twin {token} still has an owner")

    return Twins


def test_ownership_invariants_hold_under_random_operations(d: Deployment) -> None:
    machine = make_machine(d)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
