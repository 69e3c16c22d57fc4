"""Gas of a passkey owner account (contracts/owners/) moving a twin, next to an EOA owner, under Osaka
(the EIP-7951 P-256 precompile at 0x100) and Prague (P-256 verified in Solidity). Every owner first
claims its twins, as buyers do, then moves one to a new holder and one to a holder. Figures are the
`gasUsed` of real receipts on a fresh Anvil (30M block gas limit), with WebAuthn assertions signed by a
software P-256 key. Run after `npm run build`:

    .venv/bin/python scripts/gas_passkey.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.chain.anvil import Anvil
from registry.errors import ContractReverted
from tests.contracts.chain import Chain, Deployment, claim_args, deploy_twinmark, mint_claimable, transfer_sig
from tests.contracts.passkeys import (
    Passkey,
    create_account,
    deploy_factory,
    erc1271_signature,
    execute_args,
    install_decoder,
    transfer_digest,
)


def claimed(d: Deployment, owner: str, count: int) -> list[int]:
    """`count` twins claimed by `owner` (claims materialize a twin's storage, as in real use)."""
    batch = mint_claimable(d, count)
    tokens = [batch.first + i for i in range(count)]
    for token in tokens:
        d.chain.send(d.col_a.functions.claim(*claim_args(d, d.col_a, batch, token, owner)), d.operator)
    return tokens


def execution_gas(w3: Web3, to: str, data: str) -> int:
    """Gas a call's own execution uses (the trace's total less 21,000 and the calldata's cost)."""
    params = [{"to": to, "data": data, "gas": hex(5_000_000)}, "latest", {"tracer": "callTracer"}]
    trace = w3.provider.make_request(RPCEndpoint("debug_traceCall"), params)["result"]
    raw = bytes.fromhex(data.removeprefix("0x"))
    calldata = sum(4 if b == 0 else 16 for b in raw)
    return int(trace["gasUsed"], 16) - 21_000 - calldata


def measure(hardfork: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with Anvil(hardfork=hardfork) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        chain = Chain(w3)
        install_decoder(chain)
        d = deploy_twinmark(chain, list(w3.eth.accounts))
        factory = deploy_factory(chain, d.operator)
        verifier = factory.functions.verifier().call()
        col = d.col_a

        def gas(fn: Any) -> str:
            return f"{chain.send(fn, d.operator)['gasUsed']:,}"

        eoa = chain.new_account()
        holder = chain.new_account().address
        first, second = claimed(d, eoa.address, 2)
        rows.append(
            (
                "EOA owner, transferBySig to a new holder",
                gas(col.functions.transferBySig(*transfer_sig(d, col, eoa, holder, first))),
            )
        )
        rows.append(
            (
                "EOA owner, transferBySig to a holder",
                gas(col.functions.transferBySig(*transfer_sig(d, col, eoa, holder, second))),
            )
        )

        key = Passkey()
        receipt = chain.send(factory.functions.createAccount(key.qx, key.qy), d.operator)
        rows.append(("createAccount (clone and its first passkey)", f"{receipt['gasUsed']:,}"))
        account = create_account(chain, factory, key, d.operator)
        tokens = claimed(d, account.address, 4)

        # ERC-1271: the collection asks the account within its 100,000-gas stipend.
        deadline = chain.now() + 3600
        nonce = col.functions.twin(tokens[0]).call()[6]
        digest = transfer_digest(chain, col.address, holder, tokens[0], nonce, deadline)
        signature = erc1271_signature(chain, account.address, verifier, key, digest)
        check = account.functions.isValidSignature(digest, signature)._encode_transaction_data()
        rows.append(("isValidSignature execution (stipend 100,000)", f"{execution_gas(w3, account.address, check):,}"))
        for label, token, to in (
            ("a new holder", tokens[0], chain.new_account().address),
            ("a holder", tokens[1], holder),
        ):
            nonce = col.functions.twin(token).call()[6]
            digest = transfer_digest(chain, col.address, to, token, nonce, deadline)
            signature = erc1271_signature(chain, account.address, verifier, key, digest)
            name = f"passkey owner, transferBySig to {label} ({len(signature)} B signature)"
            try:
                rows.append((name, gas(col.functions.transferBySig(to, token, nonce, deadline, signature))))
            except ContractReverted as exc:
                rows.append((name, f"refused: {exc.name}"))

        # executeBySig: the account calls transferFrom itself; bounded by the relay's gas cap, no stipend.
        for label, token, to in (
            ("a new holder", tokens[2], chain.new_account().address),
            ("a holder", tokens[3], holder),
        ):
            args = execute_args(chain, account, verifier, key, [transfer_call(col, account, to, token)])
            rows.append(
                (f"passkey owner, executeBySig(transferFrom) to {label}", gas(account.functions.executeBySig(*args)))
            )
    return rows


def transfer_call(col: Contract, account: Contract, to: str, token: int) -> tuple[str, int, bytes]:
    data = col.functions.transferFrom(account.address, to, token)._encode_transaction_data()
    return (col.address, 0, bytes.fromhex(data.removeprefix("0x")))


def main() -> None:
    for hardfork in ("osaka", "prague"):
        print(f"\n{hardfork}")
        for label, value in measure(hardfork):
            print(f"  {label:<72} {value:>10}")


if __name__ == "__main__":
    main()
