"""Ownership lifecycle end to end through the API on a real Anvil: claim, resale, lost/stolen,
service records, content updates, compromise and provenance, each with its refusals."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from sqlalchemy import inspect, text

from registry.chain.artifacts import load_hardhat
from registry.chain.sender import TxSender
from registry.errors import ContractReverted
from tests.api.conftest import Stack, gtin, physical, png
from tests.contracts.chain import HARDHAT


def sign(account: LocalAccount, payload: dict[str, Any]) -> str:
    return "0x" + bytes(Account.sign_message(encode_typed_data(full_message=payload), account.key).signature).hex()


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + code), r.json()
    return dict(r.json())


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    a, col_a = stack.new_brand("Lifecycle A", "LIFA")
    b, col_b = stack.new_brand("Lifecycle B", "LIFB")
    image = stack.upload(a, png(90))
    twins = [physical(f"L-{i}", image=image, code="871234567890") | {"claimable": True} for i in range(8)]
    twins.append(physical("L-plain", code="871234567890"))  # not claimable
    job = stack.wait_job(a, stack.client.post("/v1/batches", json={"twins": twins}, headers=a).json()["id"])
    assert job["state"] == "completed" and job["claim_secrets"]["available"] is True
    r = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=a)
    assert r.status_code == 200, r.text
    secrets = {row["serial"]: row for row in r.json()["secrets"]}
    job_b = stack.wait_job(
        b, stack.client.post("/v1/twins", json=physical("LB-1", code="871234567891"), headers=b).json()["id"]
    )
    return {
        "a": a,
        "b": b,
        "col_a": col_a,
        "col_b": col_b,
        "job": job,
        "secrets": secrets,
        "b_token": job_b["twins"][0]["token_id"],
    }


def token_of(world: dict[str, Any], serial: str) -> int:
    return next(t["token_id"] for t in world["job"]["twins"] if t["serial"] == serial)


def claim(stack: Stack, world: dict[str, Any], serial: str, recipient: str, secret: str | None = None) -> Any:
    row = world["secrets"].get(serial)
    body = {"secret": secret or (row["secret"] if row else "A" * 32), "recipient": recipient}
    return stack.client.post(f"/v1/twins/{world['col_a']}/{token_of(world, serial)}/claim", json=body)


def test_claim_secrets_are_handed_over_once_and_never_kept(stack: Stack, world: dict[str, Any]) -> None:
    assert len(world["secrets"]) == 8  # the plain twin has none
    row = world["secrets"]["L-0"]
    assert len(row["secret"]) == 32 and row["claim_url"].endswith(f"#claim={row['secret']}")
    assert row["claim_url"].split("#")[0].endswith(f"/01/{gtin('871234567890').zfill(14)}/21/L-0")
    problem(stack.client.get(f"/v1/jobs/{world['job']['id']}/claim-secrets", headers=world["a"]), 410, "gone")
    problem(stack.client.get(f"/v1/jobs/{world['job']['id']}/claim-secrets", headers=world["b"]), 404, "not-found")
    # Nowhere in the registry database, nor in IPFS content, is any secret in clear.
    with stack.runtime.engine.connect() as conn:
        dump = " ".join(
            str(row_)
            for table in inspect(conn).get_table_names()
            for row_ in conn.execute(text(f'SELECT * FROM "{table}"'))
        )
    blocks = stack.runtime.settings.data_dir / "blocks"
    content = b"".join(p.read_bytes() for p in blocks.rglob("*") if p.is_file())
    for entry in world["secrets"].values():
        assert entry["secret"] not in dump
        assert entry["secret"].encode() not in content


def test_claim_secrets_as_csv(stack: Stack, world: dict[str, Any]) -> None:
    job = stack.wait_job(
        world["a"],
        stack.client.post(
            "/v1/twins", json=physical("L-csv", code="871234567890") | {"claimable": True}, headers=world["a"]
        ).json()["id"],
    )
    r = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", params={"format": "csv"}, headers=world["a"])
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "contract,token_id,name,gtin,serial,secret,claim_url" and len(lines) == 2


def test_claim_and_its_refusals(stack: Stack, world: dict[str, Any]) -> None:
    buyer = Account.create().address
    body = problem(claim(stack, world, "L-0", buyer, secret="B" * 32), 403, "wrong-claim-secret")
    assert "attempts left" in body["detail"]
    r = claim(stack, world, "L-0", buyer)
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == buyer
    col = stack.runtime.chain.collection(world["col_a"])
    assert col.functions.ownerOf(token_of(world, "L-0")).call() == buyer
    problem(claim(stack, world, "L-0", Account.create().address), 409, "already-claimed")
    problem(claim(stack, world, "L-plain", buyer), 409, "not-claimable")
    problem(
        stack.client.post(f"/v1/twins/{world['col_a']}/{token_of(world, 'L-1')}/claim", json={"secret": "x" * 16}),
        422,
        "invalid-input",
    )


def test_wrong_secrets_are_rate_limited_per_twin(stack: Stack, world: dict[str, Any]) -> None:
    buyer = Account.create().address
    for _ in range(5):
        problem(claim(stack, world, "L-1", buyer, secret="C" * 32), 403, "wrong-claim-secret")
    problem(claim(stack, world, "L-1", buyer, secret="D" * 32), 429, "too-many-requests")
    assert claim(stack, world, "L-2", buyer).status_code == 200  # other twins are unaffected
    assert claim(stack, world, "L-1", buyer).status_code == 200  # limits refuse wrong secrets only


def test_a_stolen_twin_cannot_be_claimed(stack: Stack, world: dict[str, Any]) -> None:
    token = token_of(world, "L-3")
    r = stack.client.post(f"/v1/twins/{world['col_a']}/{token}/status", json={"status": "stolen"}, headers=world["a"])
    assert r.status_code == 200, r.text
    problem(claim(stack, world, "L-3", Account.create().address), 409, "twin-stolen")
    # Brand B cannot touch brand A's twin, and a provider key cannot change status.
    problem(
        stack.client.post(f"/v1/twins/{world['col_a']}/{token}/status", json={"status": "active"}, headers=world["b"]),
        404,
        "not-found",
    )
    r = stack.client.post(f"/v1/twins/{world['col_a']}/{token}/status", json={"status": "active"}, headers=world["a"])
    assert r.status_code == 200
    assert claim(stack, world, "L-3", Account.create().address).status_code == 200


def test_a_copied_claim_cannot_be_redirected(stack: Stack, world: dict[str, Any]) -> None:
    buyer = Account.create().address
    r = claim(stack, world, "L-4", buyer)
    assert r.status_code == 200
    chain = stack.runtime.chain
    col = chain.collection(world["col_a"])
    tx = chain.w3.eth.get_transaction(r.json()["tx_hash"])
    _, args = col.decode_function_input(tx["input"])
    # The same claim on a sibling twin of the batch (still unclaimed) redirected to an attacker:
    sibling = token_of(world, "L-5")
    forged = col.functions.claim(
        sibling, Account.create().address, args["deadline"], args["r"], args["vs"], args["proof"]
    )
    with pytest.raises(ContractReverted, match="TwinmarkCollectionInvalidClaimProof"):
        chain.sender.transact(forged)


def _owner_with_twin(stack: Stack, world: dict[str, Any], serial: str) -> tuple[LocalAccount, int]:
    owner: LocalAccount = Account.create()
    assert claim(stack, world, serial, owner.address).status_code == 200
    return owner, token_of(world, serial)


def test_resale_by_signed_transfer_and_its_refusals(stack: Stack, world: dict[str, Any]) -> None:
    owner, token = _owner_with_twin(stack, world, "L-6")
    second = Account.create()
    base = f"/v1/twins/{world['col_a']}/{token}/transfers"
    typed = stack.client.get(base + "/typed-data", params={"to": second.address}).json()
    assert typed["owner"] == owner.address
    payload = typed["typed_data"]
    message = payload["message"]

    def post(signature: str, **override: Any) -> Any:
        body = {
            "to": message["to"],
            "nonce": message["nonce"],
            "deadline": message["deadline"],
            "signature": signature,
        } | override
        return stack.client.post(base, json=body)

    other_chain = payload | {"domain": payload["domain"] | {"chainId": 1}}
    problem(post(sign(owner, other_chain)), 403, "invalid-signature")
    other_contract = payload | {"domain": payload["domain"] | {"verifyingContract": world["col_b"]}}
    problem(post(sign(owner, other_contract)), 403, "invalid-signature")
    problem(post(sign(Account.create(), payload)), 403, "invalid-signature")
    expired = payload | {"message": message | {"deadline": int(time.time()) - 10}}
    problem(post(sign(owner, expired), deadline=int(time.time()) - 10), 422, "expired-signature")
    redirect = post(sign(owner, payload), to=Account.create().address)
    problem(redirect, 403, "invalid-signature")

    good = sign(owner, payload)
    r = post(good)
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == second.address
    problem(post(good), 409, "stale-nonce")  # replay
    assert stack.runtime.chain.collection(world["col_a"]).functions.ownerOf(token).call() == second.address


def test_transfer_from_an_erc1271_contract_wallet(stack: Stack, world: dict[str, Any]) -> None:
    owner, token = _owner_with_twin(stack, world, "L-7")
    chain = stack.runtime.chain
    signer: LocalAccount = Account.create()
    art = load_hardhat(HARDHAT / "test" / "TestContractWallet.sol" / "TestContractWallet.json")
    receipt = chain.sender.transact(
        chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(signer.address)
    )
    wallet = receipt["contractAddress"]
    base = f"/v1/twins/{world['col_a']}/{token}/transfers"
    for current, to in ((owner, wallet), (signer, Account.create().address)):
        typed = stack.client.get(base + "/typed-data", params={"to": to}).json()["typed_data"]
        m = typed["message"]
        r = stack.client.post(
            base, json={"to": to, "nonce": m["nonce"], "deadline": m["deadline"], "signature": sign(current, typed)}
        )
        assert r.status_code == 200, r.text
        assert chain.collection(world["col_a"]).functions.ownerOf(token).call() == to


def _report(stack: Stack, world: dict[str, Any], owner: LocalAccount, token: int, status: str) -> Any:
    base = f"/v1/twins/{world['col_a']}/{token}/status"
    typed = stack.client.get(base + "/typed-data", params={"status": status}).json()["typed_data"]
    m = typed["message"]
    return stack.client.post(
        base, json={"status": status, "nonce": m["nonce"], "deadline": m["deadline"], "signature": sign(owner, typed)}
    )


def test_lost_stolen_recovered(stack: Stack, world: dict[str, Any]) -> None:
    owner, token = _owner_with_twin(stack, world, "L-5")
    col = world["col_a"]
    assert _report(stack, world, owner, token, "lost").status_code == 200
    assert stack.client.get(f"/v1/twins/{col}/{token}").json()["on_chain"]["status"] == "lost"
    assert _report(stack, world, owner, token, "stolen").status_code == 200
    problem(
        stack.client.get(f"/v1/twins/{col}/{token}/transfers/typed-data", params={"to": owner.address}),
        409,
        "twin-stolen",
    )
    problem(_report(stack, world, owner, token, "active"), 409, "conflict")  # only the brand clears a theft
    # The contract refuses too, whoever asks.
    chain = stack.runtime.chain
    chain.w3.provider.make_request("anvil_setBalance", [owner.address, hex(10**18)])  # type: ignore[arg-type]
    own_sender = TxSender(chain.w3, owner, chain.sender.decoder)
    with pytest.raises(ContractReverted, match="TwinmarkERC721TwinStolen"):
        own_sender.transact(
            chain.collection(col).functions.transferFrom(owner.address, Account.create().address, token)
        )
    stale = stack.client.post(
        f"/v1/twins/{col}/{token}/status", json={"status": "lost", "nonce": 0, "deadline": 1, "signature": "0x00"}
    )
    problem(stale, 409, "stale-nonce")
    assert (
        stack.client.post(f"/v1/twins/{col}/{token}/status", json={"status": "active"}, headers=world["a"]).status_code
        == 200
    )
    verdict = stack.client.get(f"/v1/verify/{col}/{token}").json()
    assert verdict["authentic"] is True and verdict["twin"]["status"] == "active"


def test_service_records_by_authorised_providers_only(stack: Stack, world: dict[str, Any]) -> None:
    r = stack.client.post("/v1/providers", json={"name": "Atelier Repairs"}, headers=world["a"])
    assert r.status_code == 201, r.text
    provider = {"Authorization": f"Bearer {r.json()['api_key']}"}
    address = r.json()["address"]
    chain = stack.runtime.chain
    assert chain.collection(world["col_a"]).functions.isServiceProvider(address).call()
    assert not chain.collection(world["col_b"]).functions.isServiceProvider(address).call()
    token = token_of(world, "L-plain")
    record = {"kind": "repair", "summary": "Handle re-stitched", "performed_on": "2026-11-20", "details": {"hours": 2}}
    r = stack.client.post(f"/v1/twins/{world['col_a']}/{token}/service-records", json=record, headers=provider)
    assert r.status_code == 201, r.text
    assert r.json()["provider"] == address
    problem(
        stack.client.post(
            f"/v1/twins/{world['col_b']}/{world['b_token']}/service-records", json=record, headers=provider
        ),
        403,
        "forbidden",
    )
    problem(
        stack.client.post(f"/v1/twins/{world['col_a']}/{token}/service-records", json=record, headers=world["a"]),
        403,
        "forbidden",
    )
    problem(
        stack.client.post("/v1/twins", json=physical("L-prov", code="871234567890"), headers=provider), 403, "forbidden"
    )
    events = stack.client.get(f"/v1/twins/{world['col_a']}/{token}/provenance").json()["events"]
    recorded = [e for e in events if e["event"] == "service_recorded"]
    assert recorded and recorded[-1]["record_cid"] == r.json()["record_cid"] and recorded[-1]["provider"] == address


def test_content_update_keeps_history(stack: Stack, world: dict[str, Any]) -> None:
    token = token_of(world, "L-plain")
    col = world["col_a"]
    before = stack.client.get(f"/v1/twins/{col}/{token}").json()
    updated = physical("L-plain", code="871234567890") | {"description": "Re-authenticated after repair"}
    r = stack.client.put(f"/v1/twins/{col}/{token}/metadata", json=updated, headers=world["a"])
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["token_uri"] == f"ipfs://{after['metadata_cid']}" != before["token_uri"]
    assert stack.runtime.chain.collection(col).functions.tokenURI(token).call() == after["token_uri"]
    verdict = stack.client.get(f"/v1/verify/{col}/{token}").json()
    assert (
        verdict["authentic"] is True and verdict["twin"]["metadata"]["description"] == "Re-authenticated after repair"
    )
    events = stack.client.get(f"/v1/twins/{col}/{token}/provenance").json()["events"]
    assert (
        events[0]["event"] == "minted" and before["directory_cid"] == events[0]["batch_directory"]
    )  # the old anchor stays
    assert events[-1]["event"] == "content_updated" and events[-1]["cid"] == after["metadata_cid"]
    problem(
        stack.client.put(f"/v1/twins/{col}/{token}/metadata", json=updated | {"serial": "OTHER"}, headers=world["a"]),
        422,
        "invalid-input",
    )
    problem(stack.client.put(f"/v1/twins/{col}/{token}/metadata", json=updated, headers=world["b"]), 404, "not-found")


def test_full_provenance_mint_claim_resale_repair_stolen_recovered(stack: Stack, world: dict[str, Any]) -> None:
    a, col = world["a"], world["col_a"]
    job = stack.wait_job(
        a,
        stack.client.post(
            "/v1/twins", json=physical("L-story", code="871234567890") | {"claimable": True}, headers=a
        ).json()["id"],
    )
    secret = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=a).json()["secrets"][0]["secret"]
    token = job["twins"][0]["token_id"]
    first: LocalAccount = Account.create()
    assert (
        stack.client.post(
            f"/v1/twins/{col}/{token}/claim", json={"secret": secret, "recipient": first.address}
        ).status_code
        == 200
    )
    second = Account.create()
    typed = stack.client.get(f"/v1/twins/{col}/{token}/transfers/typed-data", params={"to": second.address}).json()[
        "typed_data"
    ]
    m = typed["message"]
    assert (
        stack.client.post(
            f"/v1/twins/{col}/{token}/transfers",
            json={
                "to": second.address,
                "nonce": m["nonce"],
                "deadline": m["deadline"],
                "signature": sign(first, typed),
            },
        ).status_code
        == 200
    )
    provider = {
        "Authorization": "Bearer "
        + stack.client.post("/v1/providers", json={"name": "Story Repairs"}, headers=a).json()["api_key"]
    }
    record = {"kind": "repair", "summary": "New zip", "performed_on": "2026-11-21"}
    assert (
        stack.client.post(f"/v1/twins/{col}/{token}/service-records", json=record, headers=provider).status_code == 201
    )
    assert _report(stack, world, second, token, "stolen").status_code == 200
    assert stack.client.post(f"/v1/twins/{col}/{token}/status", json={"status": "active"}, headers=a).status_code == 200

    events = stack.client.get(f"/v1/twins/{col}/{token}/provenance").json()["events"]
    assert [e["event"] for e in events] == [
        "minted",
        "claimed",
        "transferred",
        "service_recorded",
        "status_changed",
        "status_changed",
    ]
    assert events[1]["to"] == first.address and events[2] == events[2] | {"from": first.address, "to": second.address}
    assert [e.get("status") for e in events[4:]] == ["stolen", "active"]
    assert all(e["tx_hash"].startswith("0x") and e["block_time"] for e in events)
    assert [e["block_number"] for e in events] == sorted(e["block_number"] for e in events)

    verdict = stack.client.get(f"/v1/verify/{col}/{token}").json()
    twin = verdict["twin"]
    assert verdict["authentic"] is True and twin["status"] == "active" and twin["unclaimed"] is False
    assert twin["owners"] == 3 and twin["owner"] == second.address and twin["owner_since"] == events[2]["block_time"]
    assert twin["last_service_record"]["record_cid"] == events[3]["record_cid"]


def test_compromise_through_the_api(stack: Stack, world: dict[str, Any]) -> None:
    a, col = world["a"], world["col_a"]
    brand_id = stack.client.get("/v1/brands/me", headers=a).json()["id"]
    # The window opens at the late mint: everything earlier (L-plain's content update included) must lie
    # strictly before it, also when the tests ran within one second of chain time.
    stack.runtime.w3.provider.make_request("evm_increaseTime", [10])  # type: ignore[arg-type]
    job = stack.wait_job(
        a, stack.client.post("/v1/twins", json=physical("L-late", code="871234567890"), headers=a).json()["id"]
    )
    late = job["twins"][0]["token_id"]
    minted_at = stack.runtime.chain.collection(col).functions.twin(late).call()[7]
    problem(
        stack.client.post(f"/v1/brands/{brand_id}/compromise", json={"since": minted_at}, headers=a),
        401,
        "unauthenticated",
    )
    r = stack.client.post(f"/v1/brands/{brand_id}/compromise", json={"since": minted_at}, headers=stack.operator)
    assert r.status_code == 200, r.text
    time.sleep(0.3)  # the verifier answers as of the head block it last saw
    verdict = stack.client.get(f"/v1/verify/{col}/{late}").json()
    assert (
        verdict["authentic"] is False and not next(c for c in verdict["checks"] if c["name"] == "issuer_standing")["ok"]
    )
    earlier = token_of(world, "L-plain")
    assert stack.client.get(f"/v1/verify/{col}/{earlier}").json()["authentic"] is True
    r = stack.client.post(f"/v1/brands/{brand_id}/compromise/resolve", headers=stack.operator)
    assert r.status_code == 200 and r.json()["windows"][-1]["end"] is not None
