"""The example game client, run against a real service: the player signs in with a wallet, the game
lists the player's garments, loads one GLB with its bytes checked against its CID, and drops the
garment when the player sells it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from api.main import create_app
from examples.game_client import GameClient
from registry.chain.anvil import free_port
from tests.api.conftest import Stack, fresh_stack, glb, png
from tests.support.server import serve


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        fresh_stack(tmp_path_factory.mktemp("game"), public_url=base) as stack,
        serve(create_app(runtime=stack.runtime), port=port),
    ):
        yield stack, base


def test_sign_in_list_load_and_drop_after_a_sale(service: tuple[Stack, str]) -> None:
    stack, base = service
    player, buyer = Account.create(), Account.create()
    headers, collection = stack.new_brand("Atelier Pixel", "PIXL")
    model_bytes = glb(bin_chunk=b"\x01" * 300_000)  # more than one block: the CID check walks a DAG
    garment = {
        "kind": "virtual",
        "name": "Trench (virtual)",
        "category": "upper_body",
        "representations": [{"body_shapes": ["BaseMale", "BaseFemale"], "model": stack.upload(headers, model_bytes)}],
        "preview_image": stack.upload(headers, png(3)),
        "claimable": True,
    }
    job = stack.wait_job(headers, stack.client.post("/v1/twins", json=garment, headers=headers).json()["id"])
    token = job["twins"][0]["token_id"]
    secret = stack.client.get(f"/v1/jobs/{job['id']}/claim-secrets", headers=headers).json()["secrets"][0]["secret"]
    claimed = stack.client.post(
        f"/v1/twins/{collection}/{token}/claim", json={"secret": secret, "recipient": player.address}
    )
    assert claimed.status_code == 200, claimed.text

    game = GameClient(base, player.key.hex())
    game.sign_in()
    key = (collection, token)
    deadline = time.monotonic() + 20
    while not (wardrobe := game.load_wardrobe()) and time.monotonic() < deadline:
        time.sleep(0.2)  # a game polls (cheaply, with ETag) until the indexer has seen the claim
    assert list(wardrobe) == [key]
    assert game.download_model(wardrobe[key]) == model_bytes
    left: list[dict[str, Any]] = []
    game.follow(left.append)
    try:
        # The player sells the garment: signs the transfer in the wallet, the service relays it.
        typed = stack.client.get(f"/v1/twins/{collection}/{token}/transfers/typed-data", params={"to": buyer.address})
        data = typed.json()["typed_data"]
        signature = player.sign_message(encode_typed_data(full_message=data)).signature.hex()
        sold = stack.client.post(
            f"/v1/twins/{collection}/{token}/transfers",
            json={
                "to": buyer.address,
                "nonce": data["message"]["nonce"],
                "deadline": data["message"]["deadline"],
                "signature": "0x" + signature.removeprefix("0x"),
            },
        )
        assert sold.status_code == 200, sold.text
        deadline = time.monotonic() + 30
        while not left and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        game.stop()
    assert [(g["contract"], g["token_id"]) for g in left] == [key] and game.garments == {}
    assert game.load_wardrobe() == {}  # and the listing agrees


def test_a_tampered_model_is_refused(service: tuple[Stack, str]) -> None:
    """The CID check is real: a gateway answer that is not the CID's bytes fails the download."""
    stack, base = service
    game = GameClient(base, Account.create().key.hex())
    item = {
        "representations": [
            {"main_file": {"url": f"{base}/ipfs/{stack.upload(stack.new_brand('T', 'TT')[0], png(9))}"}}
        ]
    }
    other = stack.upload(stack.new_brand("U", "UU")[0], png(10))
    item["representations"][0]["main_file"]["cid"] = other  # the listing names another CID than the URL serves
    with pytest.raises(ValueError, match="CAR of"):
        game.download_model(item)
