"""Gas benchmark: Twinmark next to an OpenZeppelin ERC721URIStorage + AccessControl reference.

Both run in the same process on the same fresh Anvil (block gas limit 30M, Prague rules), and
the figures are the `gasUsed` of real receipts. Run after `npm run build`:

    .venv/bin/python scripts/gas_benchmark.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.chain import typed_data
from registry.chain.anvil import Anvil
from registry.errors import ContractReverted
from registry.ipfs.cid import RAW, cid_v1, cid_v1_bytes
from tests.contracts.chain import (
    Chain,
    claim_args,
    deploy_twinmark,
    hardhat_artifact,
    mint,
    mint_claimable,
    random_digest,
    transfer_sig,
)

TARGETS = {"batch of 1,000": 2_500, "single mint": 100_000, "claim": 80_000, "signed transfer": 80_000}


def main() -> None:
    with Anvil(extra_args=("--auto-impersonate", "--gas-limit", "30000000")) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        chain = Chain(w3)
        d = deploy_twinmark(chain, list(w3.eth.accounts))
        rows: list[tuple[str, int | None, int, int | None]] = []  # (op, twinmark, twins, reference)

        # --- Twinmark
        fn = d.registry.functions.createCollection(
            d.brand_a, "Maison A Bags", "MSNB", "ipfs://c", d.admin_a, 500, d.minter_a
        )
        collection_gas = chain.send(fn, d.admin_a)["gasUsed"]
        _, r1 = mint(d, 1, custodian=chain.new_account().address)  # custodian's first twin
        _, r100 = mint(d, 100)
        _, r1b = mint(d, 1)  # custodian already holds twins (the brand's usual custody address)
        _, r1000 = mint(d, 1000)
        claimable = mint_claimable(d, 1000)
        buyer = chain.new_account()
        token = claimable.first + 500
        claim_gas = chain.send(
            d.col_a.functions.claim(*claim_args(d, d.col_a, claimable, token, buyer.address)), d.operator
        )["gasUsed"]
        other = claimable.first + 7
        claim2_gas = chain.send(
            d.col_a.functions.claim(*claim_args(d, d.col_a, claimable, other, buyer.address)), d.operator
        )["gasUsed"]
        second = chain.new_account()
        signed_gas = chain.send(
            d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, buyer, second.address, token)), d.operator
        )["gasUsed"]
        third = chain.new_account().address
        plain_gas = chain.send(d.col_a.functions.transferFrom(second.address, third, token), second.address)["gasUsed"]
        second_owner = chain.new_account()
        chain.send(
            d.col_a.functions.claim(*claim_args(d, d.col_a, claimable, claimable.first + 8, second_owner.address)),
            d.operator,
        )
        signed2_gas = chain.send(
            d.col_a.functions.transferBySig(*transfer_sig(d, d.col_a, second_owner, third, claimable.first + 8)),
            d.operator,
        )["gasUsed"]
        nonce = d.col_a.functions.twin(other).call()[6]
        deadline = chain.now() + 3600
        payload = typed_data.typed_data(
            "ReportStatus",
            chain.chain_id,
            d.col_a.address,
            {"tokenId": other, "status": 2, "nonce": nonce, "deadline": deadline},
        )
        status_gas = chain.send(
            d.col_a.functions.reportStatusBySig(other, 2, nonce, deadline, typed_data.sign(buyer, payload)), d.operator
        )["gasUsed"]
        record = cid_v1_bytes(RAW, random_digest())
        service_gas = chain.send(d.col_a.functions.recordService(token, record), d.provider_a)["gasUsed"]
        provider = chain.new_account()
        chain.send(d.col_a.functions.setServiceProvider(provider.address, True), d.admin_a)
        deadline = chain.now() + 600
        message = {"tokenId": token, "recordCidHash": keccak(record), "nonce": 0, "deadline": deadline}
        sig = typed_data.sign(
            provider, typed_data.typed_data("ServiceRecord", chain.chain_id, d.col_a.address, message)
        )
        service_sig_gas = chain.send(
            d.col_a.functions.recordServiceBySig(token, record, provider.address, 0, deadline, sig), d.operator
        )["gasUsed"]
        update_gas = chain.send(d.col_a.functions.updateContent(token, cid_v1_bytes(RAW, random_digest())), d.minter_a)[
            "gasUsed"
        ]

        # --- The same moves in a gift-only collection (issue 26): holding periods of one day
        fn = d.registry.functions.createCollectionWithPolicy(
            d.brand_a, "Maison A Gifts", "MSNG", "", d.minter_a, (1, 86_400, 86_400)
        )
        receipt = chain.send(fn, d.admin_a)
        gift_col = chain.collection(chain.events(d.registry, "CollectionCreated", receipt)[0]["collection"])
        gift_collection_gas = receipt["gasUsed"]
        gift_first, _ = mint(d, 3, col=gift_col)
        giftee, friend = chain.new_account(), chain.new_account()
        delivery_gas = chain.send(gift_col.functions.transferFrom(d.minter_a, giftee.address, gift_first), d.minter_a)[
            "gasUsed"
        ]
        chain.send(gift_col.functions.transferFrom(d.minter_a, giftee.address, gift_first + 1), d.minter_a)
        w3.provider.make_request("evm_increaseTime", [86_401])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        gift_signed_gas = chain.send(
            gift_col.functions.transferBySig(*transfer_sig(d, gift_col, giftee, friend.address, gift_first)),
            d.operator,
        )["gasUsed"]
        gift_plain_gas = chain.send(
            gift_col.functions.transferFrom(giftee.address, friend.address, gift_first + 1), giftee.address
        )["gasUsed"]

        # --- Reference: one stored ipfs:// CIDv1 URI per token
        ref_art = hardhat_artifact("reference/ReferenceURIStorageNFT.sol", "ReferenceURIStorageNFT")
        deployer = d.operator
        ref, ref_receipt = chain.deploy_with_receipt(ref_art, deployer, deployer)
        ref_deploy_gas = ref_receipt["gasUsed"]
        ref1 = chain.send(ref.functions.mint(deployer, uri()), deployer)["gasUsed"]
        ref100 = chain.send(ref.functions.mintBatch(deployer, [uri() for _ in range(100)]), deployer)["gasUsed"]
        try:
            ref1000: int | None = chain.send(
                ref.functions.mintBatch(deployer, [uri() for _ in range(1000)]), deployer, gas=30_000_000
            )["gasUsed"]
        except (ContractReverted, ValueError, Exception):  # out of gas within the 30M block
            ref1000 = None
        holder = Account.create().address
        ref_plain = chain.send(ref.functions.transferFrom(deployer, holder, 1), deployer)["gasUsed"]

        rows = [
            ("deploy brand collection (clone)", collection_gas, 1, ref_deploy_gas),
            ("single mint (custodian's first twin)", r1["gasUsed"], 1, ref1),
            ("single mint (custodian holds twins)", r1b["gasUsed"], 1, None),
            ("batch of 100", r100["gasUsed"], 100, ref100),
            ("batch of 1,000", r1000["gasUsed"], 1000, ref1000),
            ("claim (buyer's first twin; proof depth 10)", claim_gas, 1, None),
            ("claim (buyer holds a twin; proof depth 10)", claim2_gas, 1, None),
            ("signed transfer (to a new holder)", signed_gas, 1, None),
            ("signed transfer (to a holder)", signed2_gas, 1, None),
            ("plain transfer", plain_gas, 1, ref_plain),
            ("status report (signed)", status_gas, 1, None),
            ("service record", service_gas, 1, None),
            ("service record (signed by provider, relayed)", service_sig_gas, 1, None),
            ("content update", update_gas, 1, None),
            ("deploy gift-only collection (clone + policy)", gift_collection_gas, 1, None),
            ("gift-only: the brand's first delivery (plain transfer)", delivery_gas, 1, None),
            ("gift-only: signed gift after the holding period (to a new holder)", gift_signed_gas, 1, None),
            ("gift-only: plain gift after the holding period (to a holder)", gift_plain_gas, 1, None),
        ]
        print_table(rows)


def uri() -> str:
    return f"ipfs://{cid_v1(RAW, random_digest())}"


def fmt(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_table(rows: list[tuple[str, int | None, int, int | None]]) -> None:
    print("| operation | Twinmark gas | Twinmark gas/twin | OZ URIStorage gas | OZ gas/twin | target |")
    print("|---|---:|---:|---:|---:|---|")
    for op, gas, twins, ref in rows:
        per = gas // twins if gas is not None else None
        ref_cell = fmt(ref) if ref is not None else ("does not fit in 30M" if twins > 1 else "n/a")
        ref_per = fmt(ref // twins) if ref is not None else ("-" if twins > 1 else "n/a")
        key = op.split(" (")[0]
        target = TARGETS.get(key)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:,}/twin: {'met' if per is not None and per <= target else 'MISSED'}"
        print(f"| {op} | {fmt(gas)} | {fmt(per)} | {ref_cell} | {ref_per} | {verdict} |")


if __name__ == "__main__":
    main()
