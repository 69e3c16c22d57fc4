"""Over the real stack (Anvil, SQLite and PostgreSQL): alerts raised with chain evidence, served to their
brand only (problem+json otherwise), resolved, exported, and re-checked offline by
`python -m registry.alerts.recheck` - a real HaLo signature and the chain facts at the alert's block
pass; every tampered variant fails."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from registry.alerts.recheck import main as recheck
from registry.alerts.service import AlertEngine
from registry.db.engine import session_scope
from registry.nfc import halo
from registry.scans.models import Scan
from registry.twins.models import Twin
from tests.api.conftest import Stack, physical

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "data" / "nfc-vectors.json").read_text())
HALO = VECTORS["halo_secp256k1"]["cases"][0]
CHIP = halo.address(halo.public_key(bytes.fromhex(HALO["pk2"])))


@pytest.fixture(scope="module")
def brands(stack: Stack) -> dict[str, Any]:
    a_headers, a_collection = stack.new_brand("Alert House", "ALRT")
    b_headers, _ = stack.new_brand("Other House", "OTHR")
    job = stack.wait_job(
        a_headers,
        stack.client.post(
            "/v1/batches",
            json={"twins": [physical(f"AL-{i}", code="761234567894") for i in range(2)]},
            headers=a_headers,
        ).json()["id"],
    )
    return {"a": a_headers, "b": b_headers, "collection": a_collection, "tokens": [t["token_id"] for t in job["twins"]]}


def _scans(stack: Stack, collection: str, token: int, rows: list[dict[str, Any]]) -> list[Scan]:
    """Records scans as the scan log does, then hands them to the engine as one batch (with the chain)."""
    with session_scope(stack.runtime.engine) as s:
        brand_id = s.get(Twin, (collection, token)).brand_id  # type: ignore[union-attr]
        scans = [Scan(brand_id=brand_id, collection=collection, token_id=token, **row) for row in rows]
        s.add_all(scans)
        s.flush()
        AlertEngine(stack.runtime.chain).process(s, scans)
    return scans


def _halo_tap(session: str, network: str) -> dict[str, Any]:
    evidence = {"rnd": HALO["rnd"], "rndsig": HALO["rndsig"], "pk2": HALO["pk2"]}
    return {
        "channel": "tap",
        "arrival": "nfc",
        "tag_kind": "halo",
        "tag_id": CHIP,
        "counter": HALO["counter"],
        "valid": True,
        "evidence": json.dumps(evidence),
        "session": session,
        "network": network,
        "country": "FR",
    }


def _only(stack: Stack, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    r = stack.client.get("/v1/alerts", params=query, headers=headers)
    assert r.status_code == 200, r.text
    alerts = r.json()["alerts"]
    assert len(alerts) == 1, alerts
    return dict(alerts[0])


def _recheck(tmp_path: Path, doc: dict[str, Any], *args: str) -> int:
    path = tmp_path / f"alert-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(doc))
    return recheck([str(path), *args])


def test_a_replayed_halo_tap_raises_an_alert_its_brand_alone_sees_and_anyone_can_recheck(
    stack: Stack, brands: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collection, token = brands["collection"], brands["tokens"][0]
    _scans(stack, collection, token, [_halo_tap("buyer", "198.51.100.0/24")])
    _scans(stack, collection, token, [_halo_tap("clone", "2001:db8:7::/48")])  # the same signed tap, elsewhere
    alert = _only(stack, brands["a"], rule="nfc-counter")
    assert alert["contract"] == collection and alert["token_id"] == token and alert["state"] == "open"
    assert alert["chain"]["owner"] and alert["chain"]["status"] == "active" and alert["chain"]["block_hash"]

    # another brand: not in its list, 404 on the alert itself, as problem+json
    assert stack.client.get("/v1/alerts", headers=brands["b"]).json()["alerts"] == []
    for path in (f"/v1/alerts/{alert['id']}", f"/v1/alerts/{alert['id']}/export"):
        r = stack.client.get(path, headers=brands["b"])
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = stack.client.post(f"/v1/alerts/{alert['id']}/resolve", json={"note": "mine now"}, headers=brands["b"])
    assert r.status_code == 404
    assert stack.client.get("/v1/alerts").status_code == 401

    doc = stack.client.get(f"/v1/alerts/{alert['id']}/export", headers=brands["a"]).json()
    assert [s["counter"] for s in doc["scans"]] == [1, 1]
    rpc = ["--chain-rpc", stack.anvil.url]
    assert _recheck(tmp_path, doc, *rpc) == 0
    out = capsys.readouterr().out
    assert f"chip {CHIP} signed it" in out and "PASS  chain facts" in out and "0 failed" in out
    assert _recheck(tmp_path, doc) == 0  # without an RPC: the chain facts are skipped, not passed
    assert "SKIP  chain facts" in capsys.readouterr().out

    def tampered(change: Any) -> dict[str, Any]:
        copied = copy.deepcopy(doc)
        change(copied)
        return copied

    def flip_signature(d: dict[str, Any]) -> None:
        sig = d["scans"][1]["evidence"]["rndsig"]
        d["scans"][1]["evidence"]["rndsig"] = sig[:20] + ("0" if sig[20] != "0" else "1") + sig[21:]

    variants = {
        "signature": flip_signature,
        "counter": lambda d: d["scans"][1].update(counter=2),
        "chip": lambda d: d["scans"][0].update(tag_id="0x" + "11" * 20),
        "rnd": lambda d: d["scans"][0]["evidence"].update(rnd="00000002" + HALO["rnd"][8:]),
        "owner": lambda d: d["alert"]["chain"].update(owner="0x" + "22" * 20),
        "status": lambda d: d["alert"]["chain"].update(status="stolen"),
        "block": lambda d: d["alert"]["chain"].update(block_hash="0x" + "33" * 32),
        "figures": lambda d: d["scans"][1].update(counter=5),  # also no longer a replay
    }
    for name, change in variants.items():
        assert _recheck(tmp_path, tampered(change), *rpc) == 1, name
        capsys.readouterr()

    r = stack.client.post(
        f"/v1/alerts/{alert['id']}/resolve", json={"note": "the buyer shared the link"}, headers=brands["a"]
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved" and r.json()["note"] == "the buyer shared the link"
    assert stack.client.get(f"/v1/twins/{collection}/{token}/caution").json() is None  # cleared
    again = stack.client.post(f"/v1/alerts/{alert['id']}/resolve", json={}, headers=brands["a"])
    assert again.status_code == 409 and again.json()["type"].endswith("/conflict")


def test_a_scan_of_a_stolen_twin_carries_the_chain_state_of_its_block(
    stack: Stack, brands: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collection, token = brands["collection"], brands["tokens"][1]
    chain = stack.runtime.chain
    contract = chain.collection(collection)
    chain.sender.transact(contract.functions.setStatusByBrand(token, 2))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the indexer folds the status into the twin's row
        with session_scope(stack.runtime.engine) as s:
            if s.get(Twin, (collection, token)).status == 2:  # type: ignore[union-attr]
                break
        time.sleep(0.05)
    _scans(stack, collection, token, [{"channel": "page", "arrival": "qr", "session": "finder", "country": "DE"}])
    alert = _only(stack, brands["a"], rule="stolen", token_id=token)
    assert alert["chain"]["status"] == "stolen"
    assert alert["summary"]["en"] == "Its owner reported this item stolen."

    # recovered since: the alert's facts are of its own block, and still re-check
    chain.sender.transact(contract.functions.setStatusByBrand(token, 0))
    doc = stack.client.get(f"/v1/alerts/{alert['id']}/export", headers=brands["a"]).json()
    assert _recheck(tmp_path, doc, "--chain-rpc", stack.anvil.url) == 0, capsys.readouterr().out
    doc["alert"]["chain"]["block_number"] += 1  # the twin at the next block is not stolen any more
    doc["alert"]["chain"]["block_hash"] = chain.w3.eth.get_block(doc["alert"]["chain"]["block_number"])[
        "hash"
    ].to_0x_hex()
    assert _recheck(tmp_path, doc, "--chain-rpc", stack.anvil.url) == 1
    assert "status: recorded 'stolen', chain 'active'" in capsys.readouterr().out


def test_thresholds_per_brand_and_collection(stack: Stack, brands: dict[str, Any]) -> None:
    a, collection = brands["a"], brands["collection"]
    r = stack.client.put("/v1/alerts/policy", json={"session_count": 4}, headers=a)
    assert r.status_code == 200 and r.json()["effective"]["session_count"] == 4
    r = stack.client.put(
        "/v1/alerts/policy", params={"contract": collection}, json={"markets": ["fr", "BE"]}, headers=a
    )
    assert r.status_code == 200, r.text
    assert r.json()["effective"]["markets"] == ["FR", "BE"] and r.json()["effective"]["session_count"] == 4
    assert r.json()["set"] == {"markets": ["FR", "BE"]}
    bad = stack.client.put("/v1/alerts/policy", json={"disabled": ["nonsense"]}, headers=a)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    # another brand's collection does not exist for this one
    other = stack.client.put("/v1/alerts/policy", params={"contract": collection}, json={}, headers=brands["b"])
    assert other.status_code == 404
    assert stack.client.get("/v1/alerts/policy", headers=brands["b"]).json()["effective"]["session_count"] == 10
    assert stack.client.get("/v1/alerts/99999999999999999999", headers=a).status_code == 422
    assert stack.client.get("/v1/alerts", params={"cursor": "!!"}, headers=a).status_code == 422


def test_a_twin_minted_inside_a_compromise_window_is_blacklisted_with_chain_proof(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    headers, collection = stack.new_brand("Leaky House", "LEAK")
    job = stack.wait_job(
        headers,
        stack.client.post("/v1/twins", json=physical("LK-1", code="761234567894"), headers=headers).json()["id"],
    )
    token = job["twins"][0]["token_id"]
    _scans(stack, collection, token, [{"channel": "page", "arrival": "qr", "session": "early"}])
    assert stack.client.get("/v1/alerts", headers=headers).json()["alerts"] == []  # no window yet
    chain = stack.runtime.chain
    brand_id = chain.brand_of(collection)
    minted_at = chain.collection(collection).functions.twin(token).call()[7]
    chain.sender.transact(chain.registry.functions.markCompromised(brand_id, minted_at))
    chain.w3.provider.make_request("evm_increaseTime", [60])  # type: ignore[arg-type]
    chain.sender.transact(
        chain.registry.functions.resolveCompromise(brand_id)
    )  # closed a minute later: covers the mint
    engine = AlertEngine(chain)
    engine.windows.ttl = 0  # the window just opened
    with session_scope(stack.runtime.engine) as s:
        brand = s.get(Twin, (collection, token)).brand_id  # type: ignore[union-attr]
        scan = Scan(
            brand_id=brand, collection=collection, token_id=token, channel="page", arrival="qr", session="later"
        )
        s.add(scan)
        s.flush()
        raised = engine.process(s, [scan])
        assert [a.rule for a in raised] == ["blacklisted"]
        alert_id = raised[0].id
    doc = stack.client.get(f"/v1/alerts/{alert_id}/export", headers=headers).json()
    assert doc["alert"]["chain"]["compromised_at_mint"] is True
    assert _recheck(tmp_path, doc, "--chain-rpc", stack.anvil.url) == 0, capsys.readouterr().out
    doc["alert"]["chain"]["compromised_at_mint"] = False
    assert _recheck(tmp_path, doc, "--chain-rpc", stack.anvil.url) == 1
