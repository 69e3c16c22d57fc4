"""A leaked brand key stops working: the brand rotates it (the old one fails at once), the operator
revokes it, and opening a compromise window revokes it too. Content the leaked key set inside the
window fails verification, naming the check and the change."""

from __future__ import annotations

import time

from registry.chain.layout import ID_STRIDE
from tests.api.conftest import Stack, physical


def test_rotation_revocation_and_a_compromise_window_over_a_content_update(stack: Stack) -> None:
    leaked, collection = stack.new_brand("Leaky Maison", "LKY")
    brand_id = stack.client.get("/v1/brands/me", headers=leaked).json()["id"]
    claimable = physical("K-1", code="871234567893") | {"claimable": True}
    job = stack.wait_job(leaked, stack.client.post("/v1/twins", json=claimable, headers=leaked).json()["id"])
    kept = stack.wait_job(
        leaked, stack.client.post("/v1/twins", json=physical("K-2", code="871234567893"), headers=leaked).json()["id"]
    )

    # The brand rotates its key: the old one fails at once, the new one works and opens the secrets.
    r = stack.client.post("/v1/brands/me/keys", headers=leaked)
    assert r.status_code == 201, r.text
    assert r.json()["claim_secrets_moved"] == 1
    fresh = {"Authorization": f"Bearer {r.json()['api_key']}"}
    assert stack.client.get("/v1/brands/me", headers=leaked).status_code == 401
    assert stack.client.get("/v1/brands/me", headers=fresh).status_code == 200
    secrets = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=fresh)
    assert secrets.status_code == 200 and len(secrets.json()["secrets"]) == 1

    # The operator revokes every key of the brand, then issues a new one.
    r = stack.client.post(f"/v1/brands/{brand_id}/keys/revoke", headers=stack.operator)
    assert r.status_code == 200 and r.json()["revoked_keys"] == 1
    assert stack.client.get("/v1/brands/me", headers=fresh).status_code == 401
    assert stack.client.post(f"/v1/brands/{brand_id}/keys", headers=fresh).status_code == 401  # operator only
    r = stack.client.post(f"/v1/brands/{brand_id}/keys", headers=stack.operator)
    assert r.status_code == 201
    stolen_key = {"Authorization": f"Bearer {r.json()['api_key']}"}

    # Weeks later, with that key (soon leaked), the content of K-1 is replaced ...
    stack.runtime.w3.provider.make_request("evm_increaseTime", [3600])  # type: ignore[arg-type]
    stack.runtime.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    token = job["twins"][0]["token_id"]
    assert token // ID_STRIDE != kept["twins"][0]["token_id"] // ID_STRIDE  # two batches
    forged = physical("K-1", code="871234567893") | {"name": "Replaced by the thief"}
    r = stack.client.put(f"/v1/twins/{collection}/{token}/metadata", json=forged, headers=stolen_key)
    assert r.status_code == 200, r.text
    updated_at = stack.runtime.w3.eth.get_block("latest")["timestamp"]
    # ... and the operator learns the key leaked just before that update.
    r = stack.client.post(f"/v1/brands/{brand_id}/compromise", json={"since": updated_at - 1}, headers=stack.operator)
    assert r.status_code == 200 and r.json()["revoked_keys"] == 1
    assert stack.client.get("/v1/brands/me", headers=stolen_key).status_code == 401

    time.sleep(0.3)  # the verifier answers as of the head block it last saw
    verdict = stack.client.get(f"/v1/verify/{collection}/{token}").json()
    standing = next(c for c in verdict["checks"] if c["name"] == "issuer_standing")
    assert verdict["authentic"] is False and standing["ok"] is False
    assert "current content set at" in standing["detail"] and "compromised" in standing["detail"]
    assert "minted at" not in standing["detail"]  # the mint itself came before the window
    untouched = stack.client.get(f"/v1/verify/{collection}/{kept['twins'][0]['token_id']}").json()
    assert untouched["authentic"] is True, untouched
