"""From brand registration to a verified twin, through the HTTP API on a real stack."""

from __future__ import annotations

from tests.api.conftest import Stack, glb, physical, png


def test_physical_twin_minted_and_verified(stack: Stack) -> None:
    brand, collection = stack.new_brand("Maison Alpha", "ALPHA")
    image = stack.upload(brand, png(1), "front.png")
    r = stack.client.post("/v1/twins", json=physical("SN-0001", image=image), headers=brand)
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/v1/jobs/{r.json()['id']}"
    job = stack.wait_job(brand, r.json()["id"])
    assert job["state"] == "completed", job
    assert job["counts"] == {"requested": 1, "recorded": 1}
    twin = job["twins"][0]
    assert twin["contract"] == collection and twin["token_id"] == 10_001
    assert twin["gtin"] == "04006381333931"

    detail = stack.client.get(f"/v1/twins/{collection}/10001").json()
    assert detail["metadata"]["external_url"].endswith("/01/04006381333931/21/SN-0001")
    assert detail["metadata"]["image"] == f"ipfs://{image}"
    assert detail["on_chain"] == {
        "exists": True,
        "owner": stack.runtime.chain.sender.address,
        "status": "active",
        "claimed": False,
        "transfer_policy": "open",
        "movable_from": None,  # an open collection's twin moves at once
    }

    verdict = stack.client.get(f"/v1/verify/{collection}/10001").json()
    assert verdict["authentic"] is True, verdict
    assert [c["name"] for c in verdict["checks"]] == [
        "genuine_collection",
        "token_exists",
        "issuer_standing",
        "metadata_integrity",
        "assets_integrity",
        "status",
    ]
    assert all(c["ok"] for c in verdict["checks"])
    assert verdict["twin"]["name"] == "Sac Iconique SN-0001"

    found = stack.client.get("/v1/twins", params={"gtin": "4006381333931", "serial": "SN-0001"}).json()
    assert [t["token_id"] for t in found["twins"]] == [10_001]


def test_virtual_twin_with_glb_and_link(stack: Stack) -> None:
    brand, collection = stack.new_brand("Maison Virtua", "VIRTU")
    image = stack.upload(brand, png(2))
    job = stack.wait_job(
        brand,
        stack.client.post(
            "/v1/twins", json=physical("SN-LINK", image=image, code="400638133395"), headers=brand
        ).json()["id"],
    )
    physical_token = job["twins"][0]["token_id"]
    model = stack.upload(brand, glb(), "jacket.glb")
    preview = stack.upload(brand, png(3), "preview.png")
    body = {
        "kind": "virtual",
        "name": "Jacket (digital)",
        "representations": [{"body_shapes": ["BaseMale", "BaseFemale"], "model": model}],
        "preview_image": preview,
        "category": "upper_body",
        "license": {"commercialUsage": "personalProfit", "allowRedistribution": True},
        "physical_twin": {"contract": collection, "token_id": physical_token},
    }
    r = stack.client.post("/v1/twins", json=body, headers=brand)
    assert r.status_code == 202, r.text
    job = stack.wait_job(brand, r.json()["id"])
    assert job["state"] == "completed", job
    token = job["twins"][0]["token_id"]
    meta = stack.client.get(f"/v1/twins/{collection}/{token}").json()["metadata"]
    assert meta["animation_url"] == f"ipfs://{model}"
    wearable = meta["twinmark"]["wearable"]
    assert wearable["license"]["commercialUsage"] == "personalProfit"
    assert wearable["physical_twin"] == {"contract": collection, "token_id": physical_token}
    link = stack.runtime.chain.collection(collection).functions.linkOf(token).call()
    assert link == [collection, physical_token]
    verdict = stack.client.get(f"/v1/verify/{collection}/{token}").json()
    assert verdict["authentic"] is True, verdict
    assert "3 referenced asset(s)" in verdict["checks"][4]["detail"] or "2 referenced" in verdict["checks"][4]["detail"]
