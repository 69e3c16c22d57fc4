"""Gas of a passkey owner account (contracts/owners/) moving a twin, next to an EOA owner, under Osaka
(the EIP-7951 P-256 precompile at 0x100) and Prague (P-256 verified in Solidity). Every owner first
claims its twins, as buyers do, then moves one to a new holder and one to a holder. The first action
of an account not deployed yet goes through `TwinmarkRelayHelper` (deploy and act in one
transaction), as the service relays it: the collection's transferBySig where P-256 is native (path
A), the account's executeBySig(transferFrom) where not (path B). Figures are the `gasUsed` of real
receipts on a fresh Anvil (30M block gas limit), with WebAuthn assertions signed by a software P-256
key; the README's gas-table rows are printed last. Run after `npm run build`:

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

from registry.chain import artifacts
from registry.chain.anvil import Anvil
from registry.errors import ContractReverted
from tests.contracts.chain import Chain, Deployment, claim_args, deploy_twinmark, mint_claimable, transfer_sig
from tests.contracts.passkeys import (
    Passkey,
    account_at,
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
    """(label, figure) rows for one hardfork; figures are formatted gas or a refusal."""
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

        # The first action of an account that has no code yet: deployed and moved in one transaction.
        helper = chain.deploy(artifacts.load("TwinmarkRelayHelper"), d.operator, factory.address)
        newcomer = Passkey()
        address = factory.functions.predict(newcomer.qx, newcomer.qy).call()
        [token] = claimed(d, address, 1)
        to = chain.new_account().address
        if hardfork == "osaka":
            nonce, deadline = col.functions.twin(token).call()[6], chain.now() + 3600
            digest = transfer_digest(chain, col.address, to, token, nonce, deadline)
            signature = erc1271_signature(chain, address, verifier, newcomer, digest)
            first_action = helper.functions.transferBySig(
                newcomer.qx, newcomer.qy, col.address, to, token, nonce, deadline, signature
            )
            rows.append(("first action: deploy + transferBySig to a new holder (helper)", gas(first_action)))
        else:
            undeployed = account_at(chain, address)
            call = transfer_call(col, undeployed, to, token)
            args = execute_args(chain, undeployed, verifier, newcomer, [call], nonce=0)
            first_action = helper.functions.executeBySig(newcomer.qx, newcomer.qy, *args)
            rows.append(
                ("first action: deploy + executeBySig(transferFrom) to a new holder (helper)", gas(first_action))
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


def readme_rows(osaka: dict[str, str], prague: dict[str, str]) -> list[str]:
    """The README gas-table rows (operation | Twinmark gas | per twin | OZ | OZ per twin | target)."""
    a = osaka["passkey owner, transferBySig to a new holder (832 B signature)"]
    b = prague["passkey owner, executeBySig(transferFrom) to a new holder"]
    met = "met" if int(a.replace(",", "")) <= 120_000 else "MISSED"
    rows = [
        ("signed transfer, passkey owner, P-256 precompile (Osaka; to a new holder)", a, f"<= 120,000: {met}"),
        ("signed transfer, passkey owner, P-256 in Solidity (Prague, executeBySig; to a new holder)", b, ""),
        (
            "passkey owner's first action, deploying its account (Osaka, transferBySig)",
            osaka["first action: deploy + transferBySig to a new holder (helper)"],
            "",
        ),
        (
            "passkey owner's first action, deploying its account (Prague, executeBySig)",
            prague["first action: deploy + executeBySig(transferFrom) to a new holder (helper)"],
            "",
        ),
        ("signed transfer, EOA owner (to a new holder)", osaka["EOA owner, transferBySig to a new holder"], ""),
    ]
    return [f"| {label} | {value} | {value} | n/a | n/a | {target} |" for label, value, target in rows]


def main() -> None:
    measured = {}
    for hardfork in ("osaka", "prague"):
        print(f"\n{hardfork}")
        measured[hardfork] = dict(measure(hardfork))
        for label, value in measured[hardfork].items():
            print(f"  {label:<80} {value:>10}")
    print("\nREADME gas table rows:")
    for row in readme_rows(measured["osaka"], measured["prague"]):
        print(row)


if __name__ == "__main__":
    main()
