"""Batches as JSON and CSV, split into on-chain batches; idempotent retries never mint twice."""

from __future__ import annotations

from typing import Any

import pytest

from registry.ipfs.cid import CID
from tests.api.conftest import Stack, physical


@pytest.fixture(scope="module")
def brand(stack: Stack) -> tuple[dict[str, str], str]:
    return stack.new_brand("Batch House", "BATCH")


def test_large_input_is_split_into_on_chain_batches(stack: Stack, brand: tuple[dict[str, str], str]) -> None:
    headers, collection = brand
    twins = [physical(f"BIG-{i:04d}", code="761234567890") for i in range(120)]  # chunk_size is 50 here
    r = stack.client.post("/v1/batches", json={"twins": twins}, headers=headers)
    assert r.status_code == 202, r.text
    job = stack.wait_job(headers, r.json()["id"])
    assert job["state"] == "completed" and job["counts"] == {"requested": 120, "recorded": 120}
    assert [b["size"] for b in job["batches"]] == [50, 50, 20]
    contract = stack.runtime.chain.collection(collection)
    for b in job["batches"]:
        header, anchor, _ = contract.functions.batch(b["batch_id"]).call()
        assert header[1] == b["size"] and anchor == CID.parse(b["directory_cid"]).digest
    tokens = [t["token_id"] for t in job["twins"]]
    assert len(tokens) == len(set(tokens)) == 120
    assert {t["serial"] for t in job["twins"]} == {f"BIG-{i:04d}" for i in range(120)}
    assert contract.functions.totalMinted().call() == 120
    # Paging through the twins of a job.
    page = stack.client.get(f"/v1/jobs/{job['id']}", params={"limit": 10, "offset": 115}, headers=headers).json()
    assert len(page["twins"]) == 5


def test_csv_batch(stack: Stack, brand: tuple[dict[str, str], str]) -> None:
    headers, collection = brand
    csv_text = (
        "name,description,gtin,serial,materials,origin_country,attr:Colour\n"
        "Tote One,Canvas tote,96385074,CSV-1,Canvas:90;Leather:10,IT,Navy\n"
        "Tote Two,Canvas tote,96385074,CSV-2,Canvas,IT,Sand\n"
    )
    r = stack.client.post("/v1/batches", content=csv_text.encode(), headers=headers | {"content-type": "text/csv"})
    assert r.status_code == 202, r.text
    job = stack.wait_job(headers, r.json()["id"])
    assert job["state"] == "completed"
    first = stack.client.get(f"/v1/twins/{collection}/{job['twins'][0]['token_id']}").json()
    assert first["gtin"] == "00000096385074"  # GTIN-8 normalised to 14 digits
    meta = first["metadata"]
    assert {"trait_type": "Colour", "value": "Navy"} in meta["attributes"]
    assert meta["twinmark"]["passport"]["materials"] == [
        {"name": "Canvas", "percent": 90.0},
        {"name": "Leather", "percent": 10.0},
    ]
    bad = "name,gtin,serial\nX,96385075,CSV-3\n"
    r = stack.client.post("/v1/batches", content=bad.encode(), headers=headers | {"content-type": "text/csv"})
    assert r.status_code == 422 and "twins.0" in r.json()["detail"]


def test_idempotency_key_returns_the_same_job_and_mints_once(stack: Stack, brand: tuple[dict[str, str], str]) -> None:
    headers, _ = brand
    body: dict[str, Any] = {"twins": [physical(f"IDEM-{i}", code="761234567891") for i in range(3)]}
    keyed = headers | {"Idempotency-Key": "order-42"}
    first = stack.client.post("/v1/batches", json=body, headers=keyed)
    again = stack.client.post("/v1/batches", json=body, headers=keyed)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    job = stack.wait_job(headers, first.json()["id"])
    assert job["counts"]["recorded"] == 3
    after = stack.client.post("/v1/batches", json=body, headers=keyed)  # a retry after completion
    assert after.json()["id"] == first.json()["id"]
    found = stack.client.get("/v1/twins", params={"gtin": body["twins"][0]["gtin"]}).json()["twins"]
    assert len(found) == 3
    # Same key, different body: refused.
    other = {"twins": [physical("IDEM-OTHER", code="761234567891")]}
    r = stack.client.post("/v1/batches", json=other, headers=keyed)
    assert r.status_code == 409 and "different request" in r.json()["detail"]


def test_a_copy_sent_at_the_same_time_is_a_replay_not_a_conflict(
    stack: Stack, brand: tuple[dict[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one keyed request at once: the second looked its key up before the first stored
    its job, then found the first's serials taken. It answers the first's job (was: 409)."""
    from registry.jobs import service

    headers, _ = brand
    keyed = headers | {"Idempotency-Key": "double-click-7"}
    body = {"twins": [physical("RACE-1", code="761234567893")]}
    first = stack.client.post("/v1/batches", json=body, headers=keyed)
    assert first.status_code == 202
    real, calls = service.find_by_key, []

    def looked_up_too_early(*args: Any) -> Any:
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(service, "find_by_key", looked_up_too_early)
    again = stack.client.post("/v1/batches", json=body, headers=keyed)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert len(calls) == 2


def test_a_gtin_serial_pair_gets_one_twin(stack: Stack, brand: tuple[dict[str, str], str]) -> None:
    headers, _ = brand
    twin = physical("ONCE-1", code="761234567892")
    assert stack.client.post("/v1/twins", json=twin, headers=headers).status_code == 202
    r = stack.client.post("/v1/twins", json=twin, headers=headers)
    assert r.status_code == 409 and "already have a twin" in r.json()["detail"]
    r = stack.client.post("/v1/batches", json={"twins": [physical("DUP", code="761234567892")] * 2}, headers=headers)
    assert r.status_code == 422 and "repeated" in r.json()["detail"]


def test_gs1_digital_link_resolves(stack: Stack, brand: tuple[dict[str, str], str]) -> None:
    headers, _ = brand
    job = stack.wait_job(
        headers,
        stack.client.post("/v1/twins", json=physical("DL-1", code="761234567893"), headers=headers).json()["id"],
    )
    twin = stack.client.get(f"/v1/twins/{job['twins'][0]['contract']}/{job['twins'][0]['token_id']}").json()
    link = twin["metadata"]["external_url"]
    path = link.split("://", 1)[1].split("/", 1)[1]
    # A client that asks for nothing in particular follows the default link (the page), which sends
    # non-browsers on to the twin's JSON record.
    found = stack.client.get("/" + path).json()
    assert (found["contract"], found["token_id"]) == (twin["contract"], twin["token_id"])
